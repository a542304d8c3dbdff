-- Every object that belongs to extension :'ext', described with what a
-- client, a dump or the planner sees of it (signature, result, volatility,
-- strictness, parallel safety, operator properties, cast contexts, type
-- storage, opclass members). Used by tests/compat_catalog.sh to compare
-- lodestone's catalog with pgvector's.
WITH members AS (
  SELECT d.classid, d.objid
  FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
  WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e' AND e.extname = :'ext'
)
SELECT line FROM (
  SELECT format('function %s returns %s%s volatility=%s strict=%s parallel=%s kind=%s',
                p.oid::regprocedure, CASE WHEN p.prokind = 'a' THEN '' ELSE pg_get_function_result(p.oid) END,
                CASE WHEN p.prokind = 'a' THEN (SELECT format('aggregate(sfunc=%s, stype=%s, final=%s, combine=%s, init=%s)',
                    a.aggtransfn, a.aggtranstype::regtype, a.aggfinalfn, a.aggcombinefn, a.agginitval) FROM pg_aggregate a WHERE a.aggfnoid = p.oid) ELSE '' END,
                p.provolatile, p.proisstrict, p.proparallel, p.prokind) AS line
  FROM members m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
  UNION ALL
  SELECT format('operator %s(%s, %s) returns %s via %s commutator=%s negator=%s restrict=%s join=%s',
                o.oprname, o.oprleft::regtype, o.oprright::regtype, o.oprresult::regtype, o.oprcode,
                nullif(o.oprcom, 0)::regoperator, nullif(o.oprnegate, 0)::regoperator, o.oprrest, o.oprjoin)
  FROM members m JOIN pg_operator o ON m.classid = 'pg_operator'::regclass AND o.oid = m.objid
  UNION ALL
  SELECT format('type %s len=%s byval=%s align=%s storage=%s input=%s output=%s receive=%s send=%s typmod_in=%s typmod_out=%s category=%s',
                t.oid::regtype, t.typlen, t.typbyval, t.typalign, t.typstorage, t.typinput, t.typoutput, t.typreceive, t.typsend,
                t.typmodin, t.typmodout, t.typcategory)
  FROM members m JOIN pg_type t ON m.classid = 'pg_type'::regclass AND t.oid = m.objid
  UNION ALL
  SELECT format('cast (%s AS %s) via %s context=%s', c.castsource::regtype, c.casttarget::regtype, nullif(c.castfunc, 0)::regprocedure, c.castcontext)
  FROM members m JOIN pg_cast c ON m.classid = 'pg_cast'::regclass AND c.oid = m.objid
  UNION ALL
  SELECT format('operator class %s for %s using %s default=%s: %s', oc.opcname, oc.opcintype::regtype, am.amname, oc.opcdefault,
                (SELECT string_agg(x, ', ' ORDER BY x) FROM (
                   SELECT format('op%s %s%s', ao.amopstrategy, ao.amopopr::regoperator, CASE WHEN ao.amoppurpose = 'o' THEN ' for order by' ELSE '' END) AS x
                   FROM pg_amop ao WHERE ao.amopfamily = oc.opcfamily
                     -- lodestone's threshold operators (sphere_vector): its own additions
                     AND ao.amoprighttype::regtype::text NOT LIKE 'sphere%'
                   UNION ALL
                   SELECT format('fn%s %s', ap.amprocnum, ap.amproc::regprocedure) FROM pg_amproc ap WHERE ap.amprocfamily = oc.opcfamily) s))
  FROM members m JOIN pg_opclass oc ON m.classid = 'pg_opclass'::regclass AND oc.oid = m.objid JOIN pg_am am ON am.oid = oc.opcmethod
  UNION ALL
  SELECT format('operator family %s using %s', f.opfname, am.amname)
  FROM members m JOIN pg_opfamily f ON m.classid = 'pg_opfamily'::regclass AND f.oid = m.objid JOIN pg_am am ON am.oid = f.opfmethod
  UNION ALL
  SELECT format('access method %s type=%s handler=%s', am.amname, am.amtype, am.amhandler)
  FROM members m JOIN pg_am am ON m.classid = 'pg_am'::regclass AND am.oid = m.objid
  UNION ALL
  SELECT format('%s', pg_describe_object(m.classid, m.objid, 0))
  FROM members m
  WHERE m.classid NOT IN ('pg_proc'::regclass, 'pg_operator'::regclass, 'pg_type'::regclass, 'pg_cast'::regclass,
                          'pg_opclass'::regclass, 'pg_opfamily'::regclass, 'pg_am'::regclass)
) s ORDER BY line;
