//! The on-disk layout of an ivfflat index, and what it stores per row.
//!
//! | block            | what                                                  |
//! |------------------|-------------------------------------------------------|
//! | 0                | the meta page: one [`Meta`] item                      |
//! | 1 ..= `dir_pages`| the directory: one [`Entry`] per list, in list order  |
//! | after            | list pages, one chain per list (`PageOpaque.reserved` |
//! |                  | holds the next page of the chain)                     |
//!
//! A directory entry is the list's first and last page and its center; a
//! list item is a heap TID and the row's payload (the same payloads as
//! hnsw's, [`Space`]: normalised for cosine). Centers are payloads too, so
//! one distance function ranks lists and rows.
//!
//! Pages, buffers and WAL are hnsw's helpers ([`crate::am::common::page`]).

use crate::am::common::corrupt;
use crate::am::common::page::{self, Buf, PageOpaque};
use crate::format::{Error, SqlState};
use crate::hnsw::space::{Element, Metric, Payload, Space};
use crate::types::raise;
use pgrx::pg_sys;
use std::ffi::CStr;

pub const PAGE_META: u16 = 0x4931; // "I1"
pub const PAGE_DIR: u16 = 0x4932; // "I2"
pub const PAGE_LIST: u16 = 0x4933; // "I3"

pub const MAGIC: u32 = 0x1F1A_7001;
pub const VERSION: u32 = 1;
pub const META_BLOCK: u32 = 0;
pub const FIRST_DIR_BLOCK: u32 = 1;
/// No next page.
pub const INVALID_BLOCK: u32 = pg_sys::InvalidBlockNumber;

/// Largest dimension counts, as pgvector's ivfflat (its error messages too).
pub const VECTOR_MAX_DIMS: i32 = 2000;
pub const HALFVEC_MAX_DIMS: i32 = 4000;
pub const BIT_MAX_DIMS: i32 = 64000;

/// pgvector's largest `lists`.
pub const MAX_LISTS: u64 = 32768;

/// Bytes before the payload in a list item (the heap TID, packed).
pub const ITEM_HEADER: usize = 8;
/// Bytes before the center in a directory entry (first and last page).
pub const ENTRY_HEADER: usize = 8;

/// The meta page's contents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Meta {
    pub space: Space,
    pub lists: u32,
    pub dir_pages: u32,
}

impl Meta {
    const LEN: usize = 24;

    pub fn to_bytes(self) -> [u8; Self::LEN] {
        let mut b = [0u8; Self::LEN];
        b[0..4].copy_from_slice(&MAGIC.to_ne_bytes());
        b[4..8].copy_from_slice(&VERSION.to_ne_bytes());
        b[8..12].copy_from_slice(&(self.space.dims as u32).to_ne_bytes());
        b[12..16].copy_from_slice(&self.lists.to_ne_bytes());
        b[16..20].copy_from_slice(&self.dir_pages.to_ne_bytes());
        b[20] = element_code(self.space.element);
        b[21] = metric_code(self.space.metric);
        b
    }

    pub fn from_bytes(b: &[u8]) -> Option<Meta> {
        let u = |i: usize| u32::from_ne_bytes(b[i..i + 4].try_into().unwrap_or_default());
        if b.len() < Self::LEN || u(0) != MAGIC || u(4) != VERSION {
            return None;
        }
        let space = Space::new(element_of_code(b[20])?, metric_of_code(b[21])?, u(8) as usize);
        let meta = Meta { space, lists: u(12), dir_pages: u(16) };
        (meta.lists >= 1 && meta.dir_pages >= 1 && space.is_valid()).then_some(meta)
    }

    /// Reads the meta page.
    pub fn read(index: pg_sys::Relation) -> Meta {
        if page::nblocks(index) == 0 {
            corrupt(index, "meta page (the index is empty)");
        }
        let buf = Buf::share(index, META_BLOCK);
        let p = buf.page();
        if page::page_type(p) != PAGE_META {
            corrupt(index, "meta page");
        }
        let Some(meta) = page::item(p, 1).and_then(Meta::from_bytes) else {
            corrupt(index, "meta page");
        };
        drop(buf);
        // Bounds before anything is sized from them: a meta page claiming
        // 4e9 lists would otherwise abort the backend on allocation.
        let (lists, dirs) = (u64::from(meta.lists), u64::from(meta.dir_pages));
        if lists > MAX_LISTS
            || meta.space.dims == 0
            || meta.space.dims > BIT_MAX_DIMS as usize
            || dirs > lists
            || 1 + dirs + lists > u64::from(page::nblocks(index))
        {
            corrupt(index, "meta page");
        }
        meta
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

fn element_of_code(c: u8) -> Option<Element> {
    Some(match c {
        1 => Element::F32,
        2 => Element::F16,
        3 => Element::Bit,
        _ => return None,
    })
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

fn metric_of_code(c: u8) -> Option<Metric> {
    Some(match c {
        1 => Metric::L2,
        2 => Metric::InnerProduct,
        3 => Metric::Cosine,
        5 => Metric::Hamming,
        _ => return None,
    })
}

/// One list of the directory, as read.
pub struct Entry {
    pub start: u32,
    pub insert: u32,
    /// Where the entry is, to update `insert`.
    pub block: u32,
    pub offset: u16,
    pub center: Payload,
}

/// Reads the whole directory (every list's pages and center), page by page
/// in block order.
pub fn read_directory(index: pg_sys::Relation, meta: &Meta) -> Vec<Entry> {
    let mut entries = Vec::with_capacity(meta.lists as usize);
    visit_directory(index, meta, |head, center| entries.push(head.with_center(center)));
    entries
}

/// Where a list's pages and its directory entry are (an [`Entry`] without
/// its center).
#[derive(Clone, Copy)]
pub struct EntryHead {
    pub start: u32,
    pub insert: u32,
    pub block: u32,
    pub offset: u16,
}

impl Entry {
    pub fn head(&self) -> EntryHead {
        EntryHead { start: self.start, insert: self.insert, block: self.block, offset: self.offset }
    }
}

impl EntryHead {
    pub fn with_center(self, center: &[u8]) -> Entry {
        let EntryHead { start, insert, block, offset } = self;
        Entry { start, insert, block, offset, center: Payload::from_bytes(center) }
    }
}

/// Calls `visit` with each list's entry and center, in list order, the
/// center borrowed from the page: every scan and every insert ranks all the
/// centers, and copying them (1.5 MB at 1,000 lists × 384 dimensions) cost
/// more than the distances.
pub fn visit_directory(index: pg_sys::Relation, meta: &Meta, mut visit: impl FnMut(EntryHead, &[u8])) {
    let want = ENTRY_HEADER + meta.space.payload_len();
    let mut count = 0usize;
    for block in FIRST_DIR_BLOCK..FIRST_DIR_BLOCK + meta.dir_pages {
        let buf = Buf::share(index, block);
        let p = buf.page();
        if page::page_type(p) != PAGE_DIR {
            corrupt(index, "directory page");
        }
        for offset in 1..=page::max_offset(p) {
            let Some(bytes) = page::item(p, offset).filter(|b| b.len() == want) else {
                corrupt(index, "directory entry");
            };
            let (start, insert) = entry_pages(bytes);
            visit(EntryHead { start, insert, block, offset }, &bytes[ENTRY_HEADER..]);
            count += 1;
        }
    }
    if count != meta.lists as usize {
        corrupt(index, "directory (wrong number of lists)");
    }
}

/// The insert page of the directory entry at (`block`, `offset`).
pub fn insert_page_at(index: pg_sys::Relation, block: u32, offset: u16) -> u32 {
    let buf = Buf::share(index, block);
    let p = buf.page();
    if page::page_type(p) != PAGE_DIR {
        corrupt(index, "directory page");
    }
    match page::item(p, offset) {
        Some(bytes) if bytes.len() >= ENTRY_HEADER => entry_pages(bytes).1,
        _ => corrupt(index, "directory entry"),
    }
}

pub fn entry_pages(bytes: &[u8]) -> (u32, u32) {
    let u = |i: usize| u32::from_ne_bytes(bytes[i..i + 4].try_into().unwrap_or_default());
    (u(0), u(4))
}

pub fn entry_bytes(start: u32, insert: u32, center: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(ENTRY_HEADER + center.len());
    b.extend_from_slice(&start.to_ne_bytes());
    b.extend_from_slice(&insert.to_ne_bytes());
    b.extend_from_slice(center);
    b
}

pub fn item_bytes(tid: u64, payload: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(ITEM_HEADER + payload.len());
    b.extend_from_slice(&tid.to_ne_bytes());
    b.extend_from_slice(payload);
    b
}

/// The heap TID and payload of a list item, checked against the space.
pub fn split_item<'a>(index: pg_sys::Relation, space: &Space, bytes: &'a [u8]) -> (u64, &'a [u8]) {
    if bytes.len() != ITEM_HEADER + space.payload_len() {
        corrupt(index, "list item");
    }
    (u64::from_ne_bytes(bytes[..8].try_into().unwrap_or_default()), &bytes[ITEM_HEADER..])
}

/// The next page of a list page's chain.
pub fn next_block(p: pg_sys::Page) -> u32 {
    // SAFETY: callers checked the page type, so the special space is ours.
    unsafe { (*pg_sys::PageGetSpecialPointer(p).cast::<PageOpaque>()).reserved }
}

pub fn set_next_block(p: pg_sys::Page, next: u32) {
    // SAFETY: as `next_block`, on a page we may write.
    unsafe { (*pg_sys::PageGetSpecialPointer(p).cast::<PageOpaque>()).reserved = next };
}

/// A new list page (type and an empty chain end).
pub fn init_list_page(p: pg_sys::Page) {
    page::init_page(p, PAGE_LIST);
    set_next_block(p, INVALID_BLOCK);
}

fn func_name(oid: pg_sys::Oid) -> Option<String> {
    if oid == pg_sys::InvalidOid {
        return None;
    }
    // SAFETY: get_func_name returns a palloc'd copy of the name or null.
    unsafe {
        let name = pg_sys::get_func_name(oid);
        (!name.is_null()).then(|| CStr::from_ptr(name).to_string_lossy().into_owned())
    }
}

fn feature_not_supported(message: &str) -> ! {
    let message = message.to_string();
    pgrx::ereport!(ERROR, pgrx::PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED, message);
}

/// The index's space, checked with pgvector's ivfflat messages.
pub fn space_of(index: pg_sys::Relation) -> Space {
    // SAFETY: an index relation has a tuple descriptor with one attribute.
    let (typid, typmod) = unsafe {
        let attr = (*(*index).rd_att).attrs.as_slice(1)[0];
        (attr.atttypid, attr.atttypmod)
    };
    let (mut input, mut ioparam) = (pg_sys::InvalidOid, pg_sys::InvalidOid);
    // SAFETY: getTypeInputInfo looks the type up in the syscache.
    unsafe { pg_sys::getTypeInputInfo(typid, &mut input, &mut ioparam) };
    let element = match func_name(input).as_deref() {
        Some("vector_in") => Element::F32,
        Some("halfvec_in") => Element::F16,
        // Not varbit: an index needs one length.
        Some("bit_in") if typid == pg_sys::BITOID => Element::Bit,
        _ => feature_not_supported("type not supported for ivfflat index"),
    };
    if typmod < 0 {
        raise(Error::new(SqlState::InvalidParameterValue, "column does not have dimensions"));
    }
    let max = match element {
        Element::F32 => VECTOR_MAX_DIMS,
        Element::F16 => HALFVEC_MAX_DIMS,
        _ => BIT_MAX_DIMS,
    };
    if typmod > max {
        raise(Error::new(
            SqlState::ProgramLimitExceeded,
            format!("column cannot have more than {max} dimensions for ivfflat index"),
        ));
    }
    // SAFETY: index_getprocid reads the opclass's support functions of an
    // open index (InvalidOid when absent).
    let (distance, norm) = unsafe { (pg_sys::index_getprocid(index, 1, 1), pg_sys::index_getprocid(index, 1, 2)) };
    let metric = match func_name(distance).as_deref() {
        Some("vector_l2_squared_distance" | "halfvec_l2_squared_distance") => Metric::L2,
        Some("vector_negative_inner_product" | "halfvec_negative_inner_product") if norm != pg_sys::InvalidOid => {
            Metric::Cosine
        }
        Some("vector_negative_inner_product" | "halfvec_negative_inner_product") => Metric::InnerProduct,
        Some("hamming_distance") => Metric::Hamming,
        _ => feature_not_supported("operator class not supported by lodestone's ivfflat index"),
    };
    let space = Space::new(element, metric, typmod as usize);
    if !space.is_valid() {
        feature_not_supported("operator class not supported by lodestone's ivfflat index");
    }
    // Spherical k-means (inner product, cosine) needs a direction.
    if matches!(metric, Metric::InnerProduct | Metric::Cosine) && typmod == 1 {
        raise(Error::new(SqlState::InvalidParameterValue, "dimensions must be greater than one for this opclass"));
    }
    space
}

/// A payload's values as floats (bits as 0 and 1), for k-means.
pub fn to_f32(space: &Space, payload: &[u8], out: &mut Vec<f32>) {
    match space.element {
        Element::F32 => out.extend_from_slice(crate::hnsw::space::as_f32(payload)),
        Element::F16 => out.extend(crate::hnsw::space::as_f16(payload).iter().map(|h| h.to_f32())),
        _ => out.extend((0..space.dims).map(|i| f32::from((payload[i / 8] >> (7 - i % 8)) & 1))),
    }
}

/// A center (floats from k-means) as a payload of the space: normalised for
/// inner product and cosine (spherical k-means, as pgvector), bits rounded.
pub fn center_payload(space: &Space, center: &[f32]) -> Payload {
    let mut values = center.to_vec();
    if matches!(space.metric, Metric::InnerProduct | Metric::Cosine) {
        let norm = values.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>().sqrt();
        if norm > 0.0 && norm.is_finite() {
            for v in &mut values {
                *v = (f64::from(*v) / norm) as f32;
            }
        }
    }
    match space.element {
        Element::F32 => Payload::from_words(values.iter().map(|v| v.to_bits()).collect(), values.len() * 4),
        Element::F16 => {
            let raw = Space { metric: Metric::L2, ..*space };
            let halves: Vec<half::f16> = values.iter().map(|&v| half::f16::from_f32(v)).collect();
            raw.payload_from_f16(&halves).unwrap_or_else(|| Payload::from_bytes(&vec![0; space.payload_len()]))
        }
        _ => {
            let mut bytes = vec![0u8; space.payload_len()];
            for (i, &v) in values.iter().enumerate() {
                if v >= 0.5 {
                    bytes[i / 8] |= 0x80 >> (i % 8);
                }
            }
            Payload::from_bytes(&bytes)
        }
    }
}
