-- Helpers shared by the other regress files.
--
-- regress.error_of(query) runs a statement and reports its SQLSTATE, message
-- and detail, so a table of bad inputs shows the class of every error.
CREATE SCHEMA regress;

CREATE FUNCTION regress.error_of(query text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  detail text;
BEGIN
  EXECUTE query;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
  RETURN SQLSTATE || ': ' || SQLERRM || coalesce(nullif(' (' || detail || ')', ' ()'), '');
END
$$;
