//! Page space for new tuples: which data page a node, its links tuple or an
//! overflow tuple goes on, reusing freed slots, and new data pages. Inserts,
//! duplicate chains and builds that spill all allocate through here.

use crate::am::common::page::{
    add_item, fits, init_page, item, max_offset, nblocks, overwrite_item, page_type, Buf, Wal, PAGE_DATA,
};
use crate::hnsw::layout::{maxalign, Links, Node, NodeLayout, KIND_LINKS, KIND_NODE, LINE_POINTER};
use pgrx::pg_sys;

/// Whether `block` has room for a links tuple of `size` besides a node of
/// `node_size`.
pub(super) fn room_for(
    index: pg_sys::Relation,
    layout: &NodeLayout,
    block: u32,
    node_size: usize,
    size: usize,
) -> bool {
    let buf = Buf::share(index, block);
    let page = buf.page();
    let node_space =
        if free_node_slot(page, layout, node_size).1.is_some() { 0 } else { maxalign(node_size) + LINE_POINTER };
    fits(page, size + node_space)
}

/// The first data page from `start` (other than `exclude`) with room for
/// `size` bytes (or, when `node`, a free node slot); a new page when none has.
pub(super) fn find_block(
    index: pg_sys::Relation,
    layout: &NodeLayout,
    start: u32,
    size: usize,
    node: bool,
    exclude: Option<u32>,
) -> u32 {
    let end = nblocks(index);
    for block in start.max(1)..end {
        pgrx::check_for_interrupts!(); // no lock is held here
        if Some(block) == exclude {
            continue;
        }
        let buf = Buf::share(index, block);
        let page = buf.page();
        // SAFETY: reads the header of a locked page.
        if unsafe { pg_sys::PageIsNew(page) } {
            // Extended but never initialised (a crash after extending).
            drop(buf);
            init_data_page(index, block);
            return block;
        }
        if page_type(page) != PAGE_DATA {
            continue;
        }
        if fits(page, size) || (node && free_node_slot(page, layout, size).1.is_some()) {
            return block;
        }
    }
    new_data_page(index)
}

/// Adds an initialised, empty data page at the end of the index; its block.
pub(super) fn new_data_page(index: pg_sys::Relation) -> u32 {
    let buf = Buf::extend(index);
    let mut wal = Wal::start(index);
    let page = wal.register_new(&buf);
    init_page(page, PAGE_DATA);
    wal.finish();
    buf.block()
}

/// Initialises a page that is still all zeros, unless someone did already.
pub(super) fn init_data_page(index: pg_sys::Relation, block: u32) {
    let buf = Buf::exclusive(index, block);
    // SAFETY: reads the header of a locked page.
    if unsafe { pg_sys::PageIsNew(buf.page()) } {
        let mut wal = Wal::start(index);
        let page = wal.register_new(&buf);
        init_page(page, PAGE_DATA);
        wal.finish();
    }
}

/// A freed node slot on the page that a node of `size` bytes can take (its
/// version, bumped) or a fresh version. With a fixed layout every node slot
/// has the node size; a variable one takes a slot at least as big (the
/// overwrite shrinks it).
pub(super) fn free_node_slot(page: pg_sys::Page, layout: &NodeLayout, size: usize) -> (u8, Option<u16>) {
    for offset in 1..=max_offset(page) {
        let Some(bytes) = item(page, offset) else {
            continue;
        };
        if bytes.first() != Some(&KIND_NODE) || bytes.len() < size {
            continue;
        }
        if let Some(n) = Node::parse(bytes, layout) {
            if n.is_free() {
                return (n.version().wrapping_add(1), Some(offset));
            }
        }
    }
    (0, None)
}

/// Puts a links tuple on the page, reusing a freed one that is big enough.
pub(super) fn put_links(page: pg_sys::Page, layout: &NodeLayout, tuple: &[u8]) -> Option<u16> {
    for offset in 1..=max_offset(page) {
        let Some(bytes) = item(page, offset) else {
            continue;
        };
        if bytes.first() != Some(&KIND_LINKS) || bytes.len() < tuple.len() {
            continue;
        }
        if Links::parse(bytes, layout).is_some_and(|l| l.is_free()) && overwrite_item(page, offset, tuple) {
            return Some(offset);
        }
    }
    add_item(page, tuple)
}
