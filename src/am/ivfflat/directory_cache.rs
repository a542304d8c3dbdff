//! The directory's centers and where each list and its entry are, kept per
//! backend in the index's relcache entry (`rd_amcache`, as btree keeps its
//! meta page there).
//!
//! Every scan and every insert ranks every center. Read from the directory
//! pages, that is a buffer lookup, pin and lock per page (about 190 pages at
//! 1,000 lists × 384 dimensions) and centers scattered over shared buffers;
//! from one contiguous block it is the distances alone. The centers, the
//! lists' first pages and the entries' places never change after the build
//! (an entry's insert page does, and is read from its page): only
//! `REINDEX`, `TRUNCATE` or a new index write a new directory, each into a
//! new relfilenode, which invalidates the relcache entry and frees the copy
//! with it (`rd_indexcxt`). A directory larger than [`MAX_BYTES`] is not
//! copied; scans and inserts then read the pages.
//!
//! The copy is one `palloc` in `rd_indexcxt`, laid out as
//! `[lists: u32][payload length: u32][ListAt × lists][center × lists]`
//! (12 bytes per `ListAt`, padded to 8 bytes in all), so that it goes with
//! the context and the centers stay aligned for the distance kernels.

use super::layout::{self, EntryHead, Meta};
use pgrx::pg_sys;

/// Where a list is: its first page, and its directory entry's page and
/// offset (an [`EntryHead`] without the insert page, which changes).
#[derive(Clone, Copy, Debug)]
pub struct ListAt {
    pub start: u32,
    pub block: u32,
    pub offset: u16,
}

impl ListAt {
    const LEN: usize = 12;

    fn write(self, out: &mut [u8]) {
        out[0..4].copy_from_slice(&self.start.to_ne_bytes());
        out[4..8].copy_from_slice(&self.block.to_ne_bytes());
        out[8..12].copy_from_slice(&u32::from(self.offset).to_ne_bytes());
    }

    fn read(b: &[u8]) -> ListAt {
        let u = |i: usize| u32::from_ne_bytes(b[i..i + 4].try_into().unwrap_or_default());
        ListAt { start: u(0), block: u(4), offset: u(8) as u16 }
    }

    /// The entry as it is now: its current insert page read from its page.
    pub fn head(self, index: pg_sys::Relation) -> EntryHead {
        let insert = layout::insert_page_at(index, self.block, self.offset);
        EntryHead { start: self.start, insert, block: self.block, offset: self.offset }
    }
}

/// The largest directory copied into a backend's memory (16 MB: 1,000
/// lists of 2,000-dimension vectors take 8 MB).
pub const MAX_BYTES: usize = 16 << 20;

const HEADER: usize = 8;

fn places_len(lists: usize) -> usize {
    (lists * ListAt::LEN).next_multiple_of(8)
}

/// Calls `visit(list, at, center)` for every list, in list order: from the
/// backend's copy, made on first use, or from the pages when the directory
/// is too large to copy.
pub fn visit_centers(index: pg_sys::Relation, meta: &Meta, mut visit: impl FnMut(u32, ListAt, &[u8])) {
    let lists = meta.lists as usize;
    let len = meta.space.payload_len();
    let size = HEADER + places_len(lists) + lists * len;
    if size > MAX_BYTES {
        let mut list = 0;
        layout::visit_directory(index, meta, |head, center| {
            visit(list, ListAt { start: head.start, block: head.block, offset: head.offset }, center);
            list += 1;
        });
        return;
    }
    let bytes = cached(index, meta, size);
    let (places, centers) = bytes[HEADER..].split_at(places_len(lists));
    for (i, (at, center)) in places.chunks_exact(ListAt::LEN).zip(centers.chunks_exact(len)).enumerate() {
        visit(i as u32, ListAt::read(at), center);
    }
}

/// The backend's copy of the directory, made now if there is none (or the
/// one there does not match `meta`, which only a corrupt meta page could
/// cause). Valid until the relcache entry is next invalidated: the caller
/// uses it at once.
fn cached<'a>(index: pg_sys::Relation, meta: &Meta, size: usize) -> &'a [u8] {
    let (lists, len) = (meta.lists as usize, meta.space.payload_len());
    // SAFETY: `rd_amcache` is ours (the AM's) and, when set, points at a
    // copy made below in `rd_indexcxt`, which lives as long as the relcache
    // entry: at least its header, whose sizes, when they match, say it is
    // `size` bytes. The slice is used before anything could process an
    // invalidation (no lock is taken while it is held).
    unsafe {
        let existing = (*index).rd_amcache.cast::<u8>();
        if !existing.is_null() {
            let header = std::slice::from_raw_parts(existing, HEADER);
            let u = |i: usize| u32::from_ne_bytes(header[i..i + 4].try_into().unwrap_or_default());
            if u(0) as usize == lists && u(4) as usize == len {
                return std::slice::from_raw_parts(existing, size);
            }
        }
    }
    // Read before allocating: a corrupt directory raises here and leaves
    // no half-filled copy behind.
    let mut copy = vec![0u8; size];
    copy[0..4].copy_from_slice(&meta.lists.to_ne_bytes());
    copy[4..8].copy_from_slice(&(len as u32).to_ne_bytes());
    let (places, centers) = copy[HEADER..].split_at_mut(places_len(lists));
    let mut i = 0;
    layout::visit_directory(index, meta, |head, center| {
        let at = ListAt { start: head.start, block: head.block, offset: head.offset };
        at.write(&mut places[i * ListAt::LEN..(i + 1) * ListAt::LEN]);
        centers[i * len..(i + 1) * len].copy_from_slice(center);
        i += 1;
    });
    // SAFETY: `rd_indexcxt` is the index's relcache memory context; the copy
    // is MAXALIGNed, `size` bytes, filled from `copy`, and an older copy is
    // freed only after the pointer to it is replaced.
    unsafe {
        let cxt = (*index).rd_indexcxt;
        let ptr = pg_sys::MemoryContextAlloc(cxt, size).cast::<u8>();
        std::ptr::copy_nonoverlapping(copy.as_ptr(), ptr, size);
        let old = std::mem::replace(&mut (*index).rd_amcache, ptr.cast());
        if !old.is_null() {
            pg_sys::pfree(old);
        }
        std::slice::from_raw_parts(ptr, size)
    }
}
