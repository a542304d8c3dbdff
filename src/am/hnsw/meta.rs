//! The meta page (block 0): what an index stores and where its graph starts.

use crate::am::common::corrupt;
use crate::am::common::page::{init_page, page_type, Buf, Wal, META_BLOCK, PAGE_META};
use crate::hnsw::layout::{NodeLayout, Ref};
use crate::hnsw::space::{Element, Metric, Space};
use pgrx::pg_sys;

const MAGIC: u32 = 0x4C4F_4445; // "LODE"
const VERSION: u32 = 1;

/// The meta page's contents, as stored (native byte order, fixed layout).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
struct RawMeta {
    magic: u32,
    version: u32,
    element: u8,
    metric: u8,
    quantizer: u8,
    links0_inline: u8,
    dims: u32,
    m: u16,
    ef_construction: u16,
    max_tids: u16,
    /// 1 for a variable layout.
    variable: u16,
    payload_len: u32,
    entry_block: u32,
    entry_offset: u16,
    entry_level: u16,
    insert_block: u32,
    /// With a quantizer: the first of the contiguous pages holding its
    /// trained form (`u32::MAX` while untrained), its length in bytes and
    /// a checksum of those bytes.
    quant_block: u32,
    quant_bytes: u32,
    quant_checksum: u32,
    /// PQ subvectors asked for (0: the default).
    pq_subvectors: u32,
    /// `FLAG_*` bits (0 in indexes written before they existed).
    flags: u32,
    reserved: [u32; 3],
}

/// Meta page flag: VACUUM has marked nodes deleted and not yet finished
/// repairing, freeing and reconnecting around them. Set before the first
/// mark, cleared by the VACUUM that finishes, so that one killed in between
/// leaves the work to the next VACUUM even if that one has no dead rows.
pub const FLAG_REPAIR_PENDING: u32 = 1;

/// An index's meta data.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Meta {
    pub space: Space,
    pub layout: NodeLayout,
    pub ef_construction: usize,
    /// The entry point and its level, `None` for an empty graph.
    pub entry: Option<(Ref, usize)>,
    /// Where an insertion starts looking for free space.
    pub insert_block: u32,
    /// The quantizer, when nodes hold codes instead of vectors.
    pub quant: Option<QuantMeta>,
}

/// Where a quantized index keeps its trained quantizer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuantMeta {
    pub kind: crate::quant::Kind,
    /// PQ subvectors the options asked for (0: the default).
    pub pq_subvectors: u32,
    /// The first page of the trained quantizer, `None` when the index was
    /// built on an empty table and has none.
    pub block: Option<u32>,
    pub bytes: u32,
    pub checksum: u32,
}

fn quant_code(kind: Option<crate::quant::Kind>) -> u8 {
    kind.map_or(0, |k| k as u8)
}

fn quant_from(code: u8) -> Option<Option<crate::quant::Kind>> {
    use crate::quant::Kind;
    match code {
        0 => Some(None),
        1 => Some(Some(Kind::Sq8)),
        2 => Some(Some(Kind::Pq)),
        3 => Some(Some(Kind::Bq)),
        _ => None,
    }
}

fn element_code(e: Element) -> u8 {
    match e {
        Element::F32 => 1,
        Element::F16 => 2,
        Element::Bit => 3,
        Element::Sparse => 4,
    }
}

fn element_from(code: u8) -> Option<Element> {
    match code {
        1 => Some(Element::F32),
        2 => Some(Element::F16),
        3 => Some(Element::Bit),
        4 => Some(Element::Sparse),
        _ => None,
    }
}

fn metric_code(m: Metric) -> u8 {
    match m {
        Metric::L2 => 1,
        Metric::InnerProduct => 2,
        Metric::Cosine => 3,
        Metric::L1 => 4,
        Metric::Hamming => 5,
        Metric::Jaccard => 6,
    }
}

fn metric_from(code: u8) -> Option<Metric> {
    match code {
        1 => Some(Metric::L2),
        2 => Some(Metric::InnerProduct),
        3 => Some(Metric::Cosine),
        4 => Some(Metric::L1),
        5 => Some(Metric::Hamming),
        6 => Some(Metric::Jaccard),
        _ => None,
    }
}

impl Meta {
    fn to_raw(self) -> RawMeta {
        let (entry, level) = self.entry.unwrap_or((Ref::INVALID, 0));
        RawMeta {
            magic: MAGIC,
            version: VERSION,
            element: element_code(self.space.element),
            metric: metric_code(self.space.metric),
            quantizer: quant_code(self.quant.map(|q| q.kind)),
            links0_inline: u8::from(self.layout.links0_inline),
            dims: self.space.dims as u32,
            m: self.layout.m as u16,
            ef_construction: self.ef_construction as u16,
            max_tids: self.layout.max_tids as u16,
            variable: u16::from(self.layout.variable),
            payload_len: self.layout.payload_len as u32,
            entry_block: entry.block,
            entry_offset: entry.offset,
            entry_level: level as u16,
            insert_block: self.insert_block,
            quant_block: self.quant.and_then(|q| q.block).unwrap_or(u32::MAX),
            quant_bytes: self.quant.map_or(0, |q| q.bytes),
            quant_checksum: self.quant.map_or(0, |q| q.checksum),
            pq_subvectors: self.quant.map_or(0, |q| q.pq_subvectors),
            ..RawMeta::default()
        }
    }

    fn from_raw(raw: &RawMeta) -> Option<Meta> {
        if raw.magic != MAGIC || raw.version != VERSION {
            return None;
        }
        // Values the searches size loops and arrays by: out of range, they
        // are corruption, not a graph to walk.
        let m = i32::from(raw.m);
        if !(super::options::MIN_M..=super::options::MAX_M).contains(&m)
            || raw.max_tids == 0
            || usize::from(raw.max_tids) > crate::hnsw::layout::MAX_TIDS
            || usize::from(raw.entry_level) > crate::hnsw::level::MAX_LEVEL
            || raw.payload_len as usize > crate::hnsw::layout::PAGE_TUPLE_SPACE
        {
            return None;
        }
        let space = Space::new(element_from(raw.element)?, metric_from(raw.metric)?, raw.dims as usize);
        let layout = NodeLayout {
            m: usize::from(raw.m),
            payload_len: raw.payload_len as usize,
            max_tids: usize::from(raw.max_tids),
            links0_inline: raw.links0_inline != 0,
            variable: raw.variable != 0,
        };
        let entry = Ref { block: raw.entry_block, offset: raw.entry_offset };
        let quant = quant_from(raw.quantizer)?.map(|kind| QuantMeta {
            kind,
            pq_subvectors: raw.pq_subvectors,
            block: (raw.quant_block != u32::MAX).then_some(raw.quant_block),
            bytes: raw.quant_bytes,
            checksum: raw.quant_checksum,
        });
        Some(Meta {
            space,
            layout,
            ef_construction: usize::from(raw.ef_construction),
            entry: entry.is_valid().then_some((entry, usize::from(raw.entry_level))),
            insert_block: raw.insert_block,
            quant,
        })
    }

    /// Reads the meta page.
    pub fn read(index: pg_sys::Relation) -> Meta {
        let buf = Buf::share(index, META_BLOCK);
        Meta::from_page(buf.page()).unwrap_or_else(|| corrupt(index, "meta page"))
    }

    /// Reads meta data from a meta page's bytes.
    pub fn from_page(page: pg_sys::Page) -> Option<Meta> {
        Meta::from_raw(&raw_of(page)?)
    }

    /// Formats `page` as a meta page holding `self` (no flags set).
    pub fn write_to(&self, page: pg_sys::Page) {
        write_raw(page, &self.to_raw());
    }

    /// Rewrites the meta page of a live index, WAL-logged, keeping its flags.
    pub fn update(index: pg_sys::Relation, change: impl FnOnce(&mut Meta)) -> Meta {
        let buf = Buf::exclusive(index, META_BLOCK);
        let old = raw_of(buf.page()).unwrap_or_else(|| corrupt(index, "meta page"));
        let mut meta = Meta::from_raw(&old).unwrap_or_else(|| corrupt(index, "meta page"));
        change(&mut meta);
        let mut wal = Wal::start(index);
        let page = wal.register(&buf);
        write_raw(page, &RawMeta { flags: old.flags, ..meta.to_raw() });
        wal.finish();
        meta
    }

    /// Whether the meta page has `flag` set.
    pub fn has_flag(index: pg_sys::Relation, flag: u32) -> bool {
        let buf = Buf::share(index, META_BLOCK);
        raw_of(buf.page()).unwrap_or_else(|| corrupt(index, "meta page")).flags & flag != 0
    }

    /// Sets or clears `flag` on the meta page, WAL-logged (nothing is
    /// written when it already is as asked).
    pub fn set_flag(index: pg_sys::Relation, flag: u32, on: bool) {
        let buf = Buf::exclusive(index, META_BLOCK);
        let mut raw = raw_of(buf.page()).unwrap_or_else(|| corrupt(index, "meta page"));
        if (raw.flags & flag != 0) == on {
            return;
        }
        raw.flags = if on { raw.flags | flag } else { raw.flags & !flag };
        let mut wal = Wal::start(index);
        let page = wal.register(&buf);
        write_raw(page, &raw);
        wal.finish();
    }
}

/// The raw contents of a meta page, `None` for another kind of page.
fn raw_of(page: pg_sys::Page) -> Option<RawMeta> {
    if page_type(page) != PAGE_META {
        return None;
    }
    // SAFETY: the contents of a meta page start with a RawMeta written by
    // `write_raw`; read_unaligned copies it out whatever the alignment.
    Some(unsafe { pg_sys::PageGetContents(page).cast::<RawMeta>().read_unaligned() })
}

/// Formats `page` as a meta page holding `raw`.
fn write_raw(page: pg_sys::Page, raw: &RawMeta) {
    init_page(page, PAGE_META);
    // SAFETY: the page has room for RawMeta after its header; pd_lower is
    // moved past it so that GenericXLog treats it as data, not hole.
    unsafe {
        let contents = pg_sys::PageGetContents(page);
        contents.cast::<RawMeta>().write_unaligned(*raw);
        let header = page.cast::<pg_sys::PageHeaderData>();
        (*header).pd_lower = (contents.add(std::mem::size_of::<RawMeta>()) as usize - page as usize) as u16;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_round_trip() {
        let layout = NodeLayout::choose(12, 16).unwrap();
        let meta = Meta {
            space: Space::new(Element::F32, Metric::Cosine, 3),
            layout,
            ef_construction: 64,
            entry: Some((Ref { block: 3, offset: 2 }, 1)),
            insert_block: 5,
            quant: None,
        };
        assert_eq!(Meta::from_raw(&meta.to_raw()), Some(meta));
        let empty = Meta { entry: None, ..meta };
        assert_eq!(Meta::from_raw(&empty.to_raw()), Some(empty));
        assert_eq!(Meta::from_raw(&RawMeta::default()), None);
        // Damaged sizes the searches loop by are a corrupt meta page.
        let raw = meta.to_raw();
        assert_eq!(Meta::from_raw(&RawMeta { entry_level: 17, ..raw }), None);
        assert_eq!(Meta::from_raw(&RawMeta { m: 0, ..raw }), None);
        assert_eq!(Meta::from_raw(&RawMeta { max_tids: 11, ..raw }), None);
        assert_eq!(Meta::from_raw(&RawMeta { payload_len: 9000, ..raw }), None);
        let quant =
            QuantMeta { kind: crate::quant::Kind::Pq, pq_subvectors: 4, block: Some(9), bytes: 70, checksum: 7 };
        let quantized = Meta { quant: Some(quant), ..meta };
        assert_eq!(Meta::from_raw(&quantized.to_raw()), Some(quantized));
        let untrained = Meta { quant: Some(QuantMeta { block: None, ..quant }), ..meta };
        assert_eq!(Meta::from_raw(&untrained.to_raw()), Some(untrained));
    }
}
