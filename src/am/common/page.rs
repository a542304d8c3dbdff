//! Buffers, pages and WAL for the HNSW access method.
//!
//! Every change to a page of a live index goes through [`Wal`], a thin
//! wrapper over Postgres's generic WAL records (GenericXLog): the pages a
//! change touches are registered, modified in the copies GenericXLog hands
//! out, and logged as one atomic record. During a build pages are written
//! without WAL and the whole index is logged at the end with
//! `log_newpage_range`, as Postgres's own index builds do.
//!
//! On error, Postgres's abort processing releases buffer locks and pins and
//! frees GenericXLog state, so the guards here clean up only on the normal
//! path (they check `std::thread::panicking()`).

use crate::hnsw::layout::{maxalign, Ref, LINE_POINTER};
use pgrx::pg_sys;
use std::ffi::c_int;

/// The meta page's block.
pub const META_BLOCK: u32 = 0;

/// Page types, in the special space of every page.
pub const PAGE_META: u16 = 0x4C31; // "L1"
pub const PAGE_DATA: u16 = 0x4C32; // "L2"

/// Heavyweight page locks (on block numbers that are not read as pages):
/// inserts take `UPDATE_LOCK` shared, or exclusive when they may move the
/// entry point; vacuum takes it exclusive as a barrier. Scans take
/// `SCAN_LOCK` shared while they walk the graph; vacuum takes it exclusive
/// before it frees slots.
pub const UPDATE_LOCK: u32 = 0;
pub const SCAN_LOCK: u32 = 1;

/// The special space at the end of every page.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct PageOpaque {
    pub page_type: u16,
    pub flags: u16,
    pub reserved: u32,
}

const BUFFER_LOCK_UNLOCK: c_int = 0;
const BUFFER_LOCK_SHARE: c_int = 1;
const BUFFER_LOCK_EXCLUSIVE: c_int = 2;

/// A pinned (and maybe locked) buffer, released when dropped.
pub struct Buf {
    pub buffer: pg_sys::Buffer,
    locked: bool,
}

impl Buf {
    /// Pins `block` without locking it, through [`pin_recent`].
    pub fn pinned(index: pg_sys::Relation, block: u32) -> Buf {
        Buf { buffer: pin_recent(index, block), locked: false }
    }

    /// Locks a pinned buffer shared.
    pub fn lock_share(&mut self) {
        if !self.locked {
            // SAFETY: the buffer is pinned by us and not locked by us.
            unsafe { pg_sys::LockBuffer(self.buffer, BUFFER_LOCK_SHARE) };
            self.locked = true;
        }
    }

    /// Reads `block` and locks it shared.
    pub fn share(index: pg_sys::Relation, block: u32) -> Buf {
        Buf::read(index, block, BUFFER_LOCK_SHARE)
    }

    /// Reads `block` and locks it exclusively.
    pub fn exclusive(index: pg_sys::Relation, block: u32) -> Buf {
        Buf::read(index, block, BUFFER_LOCK_EXCLUSIVE)
    }

    fn read(index: pg_sys::Relation, block: u32, mode: c_int) -> Buf {
        check_block(index, block);
        // SAFETY: `index` is an open relation and `block` one of its blocks
        // (checked above: P_NEW would extend the index).
        unsafe {
            let buffer = pg_sys::ReadBuffer(index, block);
            pg_sys::LockBuffer(buffer, mode);
            Buf { buffer, locked: true }
        }
    }

    /// Adds a new block at the end of the index, exclusively locked and
    /// all zeros (not yet WAL-logged: the caller initialises it and registers
    /// it with [`Wal::register_new`], or logs the whole build).
    ///
    /// `RBM_ZERO_AND_LOCK` takes the lock before the new buffer becomes
    /// visible: with a plain read-then-lock, another backend scanning the
    /// index could find the zero page first, initialise and fill it, and
    /// have its work wiped when we initialise it in turn.
    pub fn extend(index: pg_sys::Relation) -> Buf {
        // SAFETY: extending under the relation extension lock is how every
        // index AM allocates a page (P_NEW = InvalidBlockNumber).
        unsafe {
            pg_sys::LockRelationForExtension(index, pg_sys::ExclusiveLock as pg_sys::LOCKMODE);
            let buffer = pg_sys::ReadBufferExtended(
                index,
                pg_sys::ForkNumber::MAIN_FORKNUM,
                pg_sys::InvalidBlockNumber,
                pg_sys::ReadBufferMode::RBM_ZERO_AND_LOCK,
                std::ptr::null_mut(),
            );
            pg_sys::UnlockRelationForExtension(index, pg_sys::ExclusiveLock as pg_sys::LOCKMODE);
            Buf { buffer, locked: true }
        }
    }

    pub fn block(&self) -> u32 {
        // SAFETY: the buffer is pinned.
        unsafe { pg_sys::BufferGetBlockNumber(self.buffer) }
    }

    /// The page in the buffer (read it under the lock only).
    pub fn page(&self) -> pg_sys::Page {
        // SAFETY: the buffer is pinned, so its page stays in memory.
        unsafe { pg_sys::BufferGetPage(self.buffer) }
    }

    pub fn unlock(&mut self) {
        if self.locked {
            // SAFETY: we hold the lock we release.
            unsafe { pg_sys::LockBuffer(self.buffer, BUFFER_LOCK_UNLOCK) };
            self.locked = false;
        }
    }
}

impl Drop for Buf {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return; // Postgres's abort releases locks and pins.
        }
        // SAFETY: the buffer is pinned by us (and locked if `locked`).
        unsafe {
            if self.locked {
                pg_sys::UnlockReleaseBuffer(self.buffer);
            } else {
                pg_sys::ReleaseBuffer(self.buffer);
            }
        }
    }
}

/// One atomic change to up to four pages of a live index.
pub struct Wal {
    state: *mut pg_sys::GenericXLogState,
}

impl Wal {
    pub fn start(index: pg_sys::Relation) -> Wal {
        // SAFETY: `index` is open and locked by the caller's transaction.
        Wal { state: unsafe { pg_sys::GenericXLogStart(index) } }
    }

    /// Registers an exclusively locked buffer and returns the page to modify.
    pub fn register(&mut self, buf: &Buf) -> pg_sys::Page {
        // SAFETY: the buffer is pinned and exclusively locked (callers only
        // register buffers from `Buf::exclusive` or `Buf::extend`).
        unsafe { pg_sys::GenericXLogRegisterBuffer(self.state, buf.buffer, 0) }
    }

    /// Registers a page that is (re)initialised from scratch: the record
    /// carries a full image instead of a delta.
    pub fn register_new(&mut self, buf: &Buf) -> pg_sys::Page {
        // SAFETY: as in `register`.
        unsafe { pg_sys::GenericXLogRegisterBuffer(self.state, buf.buffer, pg_sys::GENERIC_XLOG_FULL_IMAGE as c_int) }
    }

    /// Applies the changes to the buffers and writes the WAL record.
    pub fn finish(self) {
        // SAFETY: the state came from GenericXLogStart and is finished once.
        unsafe { pg_sys::GenericXLogFinish(self.state) };
    }

    /// Drops the changes.
    pub fn abort(self) {
        // SAFETY: as in `finish`.
        unsafe { pg_sys::GenericXLogAbort(self.state) };
    }
}

/// Formats `page` as an empty page of `page_type`.
pub fn init_page(page: pg_sys::Page, page_type: u16) {
    // SAFETY: `page` is a full BLCKSZ page we may write (a locked buffer or
    // a GenericXLog copy); PageInit lays out the header and special space.
    unsafe {
        pg_sys::PageInit(page, pg_sys::BLCKSZ as usize, std::mem::size_of::<PageOpaque>());
        let opaque = pg_sys::PageGetSpecialPointer(page).cast::<PageOpaque>();
        opaque.write(PageOpaque { page_type, flags: 0, reserved: 0 });
    }
}

/// The type of an initialised page (0 for a new, all-zero page).
pub fn page_type(page: pg_sys::Page) -> u16 {
    // SAFETY: we only read the special space after checking the page was
    // initialised with ours (its special size matches).
    unsafe {
        if pg_sys::PageIsNew(page) || usize::from(pg_sys::PageGetSpecialSize(page)) != std::mem::size_of::<PageOpaque>()
        {
            return 0;
        }
        (*pg_sys::PageGetSpecialPointer(page).cast::<PageOpaque>()).page_type
    }
}

/// Number of line pointers on a page.
pub fn max_offset(page: pg_sys::Page) -> u16 {
    // SAFETY: reads the page header of a locked page.
    unsafe { pg_sys::PageGetMaxOffsetNumber(page) }
}

/// The bytes of item `offset` (1-based), if it is a normal item.
pub fn item<'a>(page: pg_sys::Page, offset: u16) -> Option<&'a [u8]> {
    // SAFETY: we bound-check the offset against the line pointer array and
    // the item against the page before making a slice of it; the caller
    // keeps the buffer locked while using the slice.
    unsafe {
        if offset == 0 || offset > pg_sys::PageGetMaxOffsetNumber(page) {
            return None;
        }
        let id = pg_sys::PageGetItemId(page, offset);
        if (*id).lp_flags() != pg_sys::LP_NORMAL {
            return None;
        }
        let (off, len) = ((*id).lp_off() as usize, (*id).lp_len() as usize);
        if off + len > pg_sys::BLCKSZ as usize {
            return None;
        }
        Some(std::slice::from_raw_parts(page.cast::<u8>().add(off), len))
    }
}

/// Mutable bytes of item `offset` on a page we may write.
pub fn item_mut<'a>(page: pg_sys::Page, offset: u16) -> Option<&'a mut [u8]> {
    let bytes = item(page, offset)?;
    // SAFETY: same bounds as `item`; the caller holds the page exclusively
    // (a GenericXLog copy or an exclusively locked build buffer).
    Some(unsafe { std::slice::from_raw_parts_mut(bytes.as_ptr().cast_mut(), bytes.len()) })
}

/// Adds an item at the end of the line pointer array; its offset.
pub fn add_item(page: pg_sys::Page, bytes: &[u8]) -> Option<u16> {
    // SAFETY: PageAddItemExtended copies `bytes` and checks for space.
    let offset = unsafe {
        pg_sys::PageAddItemExtended(page, bytes.as_ptr().cast_mut().cast(), bytes.len(), pg_sys::InvalidOffsetNumber, 0)
    };
    (offset != pg_sys::InvalidOffsetNumber).then_some(offset)
}

/// Replaces item `offset` with `bytes` (which may be shorter or longer).
pub fn overwrite_item(page: pg_sys::Page, offset: u16, bytes: &[u8]) -> bool {
    // SAFETY: PageIndexTupleOverwrite checks offset and space.
    unsafe { pg_sys::PageIndexTupleOverwrite(page, offset, bytes.as_ptr().cast_mut().cast(), bytes.len()) }
}

/// Whether a new item of `len` bytes fits on the page.
pub fn fits(page: pg_sys::Page, len: usize) -> bool {
    // SAFETY: reads the header of a locked page.
    let free = unsafe { pg_sys::PageGetExactFreeSpace(page) };
    free >= maxalign(len) + LINE_POINTER
}

/// The tuple `at` refers to, which must be a normal item of `kind` on a data
/// page: anything else is corruption (a reference read from the index that
/// points nowhere), reported as an ERROR naming the index and the block.
pub fn tuple_at<'a>(index: pg_sys::Relation, page: pg_sys::Page, at: Ref, kind: u8) -> &'a [u8] {
    if page_type(page) != PAGE_DATA {
        corrupt_at(index, at.block, "a reference points at a page that is not an hnsw data page");
    }
    match item(page, at.offset) {
        Some(bytes) if bytes.first() == Some(&kind) => bytes,
        Some(_) => corrupt_at(index, at.block, &format!("item {} is not the kind of tuple referred to", at.offset)),
        None => corrupt_at(
            index,
            at.block,
            &format!("a reference points at item {} of {}, which is not a tuple", at.offset, max_offset(page)),
        ),
    }
}

/// Raises ERRCODE_INDEX_CORRUPTED for the page at `block` of `index`.
pub fn corrupt_at(index: pg_sys::Relation, block: u32, detail: &str) -> ! {
    pgrx::pg_sys::panic::ErrorReport::new(
        pgrx::PgSqlErrorCode::ERRCODE_INDEX_CORRUPTED,
        format!("index \"{}\" contains corrupted page at block {block}", index_name(index)),
        "lodestone",
    )
    .set_detail(detail)
    .set_hint("REINDEX the index to rebuild it.")
    .report(pgrx::PgLogLevel::ERROR);
    unreachable!("ERROR does not return")
}

fn index_name(index: pg_sys::Relation) -> String {
    // SAFETY: reads the name of an open relation.
    unsafe { std::ffi::CStr::from_ptr((*(*index).rd_rel).relname.data.as_ptr()) }.to_string_lossy().into_owned()
}

/// Raises ERRCODE_INDEX_CORRUPTED unless `block` is inside `index`. Every
/// block number read from the index passes here before it reaches the
/// buffer manager: past the end, ReadBuffer fails with an I/O error, and
/// `InvalidBlockNumber` (P_NEW) would extend the index, without WAL, from a
/// read-only scan. The size is asked of the storage manager (a system call)
/// only for blocks beyond the size seen last: the index never shrinks.
pub fn check_block(index: pg_sys::Relation, block: u32) {
    let (_, key) = relation_key(index);
    let known = RECENT.with(|r| {
        let r = r.borrow();
        if r.relation == key {
            r.nblocks
        } else {
            0
        }
    });
    if block < known {
        return;
    }
    let n = nblocks(index);
    if block >= n {
        pgrx::pg_sys::panic::ErrorReport::new(
            pgrx::PgSqlErrorCode::ERRCODE_INDEX_CORRUPTED,
            format!("index \"{}\" contains a reference to block {block}, beyond its end", index_name(index)),
            "lodestone",
        )
        .set_detail(format!("The index has {n} blocks."))
        .set_hint("REINDEX the index to rebuild it.")
        .report(pgrx::PgLogLevel::ERROR);
    }
    RECENT.with(|r| {
        let mut r = r.borrow_mut();
        r.switch_to(key);
        r.nblocks = n;
    });
}

/// Which shared buffer last held each block of the index this backend read
/// last (one index at a time: a scan or an insert works on one), and how
/// many blocks that index had then.
struct Recent {
    relation: (u32, u32, u32),
    buffers: Vec<pg_sys::Buffer>,
    nblocks: u32,
}

impl Recent {
    fn switch_to(&mut self, key: (u32, u32, u32)) {
        if self.relation != key {
            self.relation = key;
            self.buffers.clear();
            self.nblocks = 0;
        }
    }
}

thread_local! {
    static RECENT: std::cell::RefCell<Recent> =
        const { std::cell::RefCell::new(Recent { relation: (0, 0, 0), buffers: Vec::new(), nblocks: 0 }) };
}

fn relation_key(index: pg_sys::Relation) -> (pg_sys::RelFileNode, (u32, u32, u32)) {
    // SAFETY: reads the relfilenode of an open relation.
    let node = unsafe { (*index).rd_node };
    (node, (node.spcNode.into(), node.dbNode.into(), node.relNode.into()))
}

/// The buffer that held `block` of `index` when this backend last read it.
fn recent_buffer(index: pg_sys::Relation, block: u32) -> Option<pg_sys::Buffer> {
    let (_, key) = relation_key(index);
    RECENT.with(|r| {
        let r = r.borrow();
        (r.relation == key).then(|| r.buffers.get(block as usize).copied()).flatten().filter(|&b| b != 0)
    })
}

/// Pins `block` of `index`, trying first the buffer that held it last time
/// (`ReadRecentBuffer` checks the buffer's tag and pins it): a hit skips the
/// shared buffer mapping table, which is most of a buffer read's cost when
/// it is in memory.
pub fn pin_recent(index: pg_sys::Relation, block: u32) -> pg_sys::Buffer {
    let (node, key) = relation_key(index);
    if let Some(buffer) = recent_buffer(index, block) {
        // SAFETY: ReadRecentBuffer validates that `buffer` still holds this
        // block before pinning it, and returns false otherwise.
        if unsafe { pg_sys::ReadRecentBuffer(node, pg_sys::ForkNumber::MAIN_FORKNUM, block, buffer) } {
            return buffer;
        }
    }
    check_block(index, block);
    // SAFETY: `index` is open and `block` one of its blocks (checked above);
    // ReadBuffer pins the block's buffer.
    let buffer = unsafe { pg_sys::ReadBuffer(index, block) };
    RECENT.with(|r| {
        let mut r = r.borrow_mut();
        r.switch_to(key);
        // Bounded by the index's size: `block` passed `check_block`.
        if r.buffers.len() <= block as usize {
            r.buffers.resize(block as usize + 1, 0);
        }
        r.buffers[block as usize] = buffer;
    });
    buffer
}

/// Starts loading, ahead of pinning it, the descriptor, the page header and
/// the special space (the page type every read checks) of the buffer that
/// last held `block`, so that the cache misses of many blocks overlap
/// instead of adding up.
pub fn prefetch_block(index: pg_sys::Relation, block: u32) {
    if let Some(buffer) = recent_buffer(index, block).filter(|&b| b > 0) {
        let id = (buffer - 1) as usize;
        // SAFETY: only addresses are computed (shared buffer arrays sized at
        // startup; `id` came from a buffer this backend held) and prefetched,
        // which never faults and reads nothing.
        unsafe {
            let descriptor = pg_sys::BufferDescriptors.add(id).cast::<u8>();
            let page = pg_sys::BufferBlocks.cast::<u8>().wrapping_add(id * pg_sys::BLCKSZ as usize);
            prefetch(descriptor, 64);
            prefetch(page, 256);
            prefetch(page.wrapping_add(pg_sys::BLCKSZ as usize - 64), 64);
        }
    }
}

/// Asks the CPU to start loading `len` bytes at `ptr` into cache.
#[inline]
pub fn prefetch(ptr: *const u8, len: usize) {
    #[cfg(target_arch = "x86_64")]
    for line in (0..len).step_by(64) {
        // SAFETY: prefetching is a hint that never faults, whatever the
        // address; callers pass addresses inside a pinned buffer.
        unsafe { std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(ptr.wrapping_add(line).cast()) };
    }
}

/// Every page after the meta page, whatever its type, in block order up to
/// the index's size when the sweep starts, share-locked one at a time (a
/// page's lock is released when the loop body drops it), with VACUUM's
/// cost-based delay, which also checks for interrupts, before each: the
/// sweep of VACUUM's passes and of verify. A caller that writes a page
/// drops the shared lock and locks it again exclusively.
pub fn pages(index: pg_sys::Relation) -> impl Iterator<Item = (u32, Buf)> {
    (1..nblocks(index)).map(move |block| {
        // SAFETY: no buffer lock is held between pages; outside VACUUM the
        // delay is off and this is CHECK_FOR_INTERRUPTS.
        unsafe { pg_sys::vacuum_delay_point() };
        (block, Buf::share(index, block))
    })
}

/// The data pages of [`pages`]: the sweeps that read only nodes, links and
/// overflow tuples.
pub fn data_pages(index: pg_sys::Relation) -> impl Iterator<Item = (u32, Buf)> {
    pages(index).filter(|(_, buf)| page_type(buf.page()) == PAGE_DATA)
}

/// Number of blocks in the index's main fork.
pub fn nblocks(index: pg_sys::Relation) -> u32 {
    // SAFETY: `index` is open.
    unsafe { pg_sys::RelationGetNumberOfBlocksInFork(index, pg_sys::ForkNumber::MAIN_FORKNUM) }
}

/// Postgres's `RelationNeedsWAL`.
pub fn needs_wal(index: pg_sys::Relation) -> bool {
    // SAFETY: reads fields of an open relation.
    unsafe {
        let rel = &*index;
        let permanent = (*rel.rd_rel).relpersistence == pg_sys::RELPERSISTENCE_PERMANENT as std::ffi::c_char;
        permanent
            && (pg_sys::wal_level >= pg_sys::WalLevel::WAL_LEVEL_REPLICA as c_int
                || (rel.rd_createSubid == 0 && rel.rd_firstRelfilenodeSubid == 0))
    }
}

/// A heavyweight page lock held until dropped.
pub struct PageLock {
    index: pg_sys::Relation,
    block: u32,
    mode: pg_sys::LOCKMODE,
}

impl PageLock {
    pub fn share(index: pg_sys::Relation, block: u32) -> PageLock {
        PageLock::take(index, block, pg_sys::ShareLock as pg_sys::LOCKMODE)
    }

    pub fn exclusive(index: pg_sys::Relation, block: u32) -> PageLock {
        PageLock::take(index, block, pg_sys::ExclusiveLock as pg_sys::LOCKMODE)
    }

    fn take(index: pg_sys::Relation, block: u32, mode: pg_sys::LOCKMODE) -> PageLock {
        // SAFETY: page locks on an open relation; the lock manager detects
        // deadlocks between heavyweight locks.
        unsafe { pg_sys::LockPage(index, block, mode) };
        PageLock { index, block, mode }
    }
}

impl Drop for PageLock {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return; // released by the transaction's abort
        }
        // SAFETY: we hold this lock.
        unsafe { pg_sys::UnlockPage(self.index, self.block, self.mode) };
    }
}

/// Converts between index refs and Postgres item pointers.
pub fn ref_from_tid(tid: &pg_sys::ItemPointerData) -> Ref {
    let block = (u32::from(tid.ip_blkid.bi_hi) << 16) | u32::from(tid.ip_blkid.bi_lo);
    Ref { block, offset: tid.ip_posid }
}

pub fn tid_from_ref(r: Ref) -> pg_sys::ItemPointerData {
    pg_sys::ItemPointerData {
        ip_blkid: pg_sys::BlockIdData { bi_hi: (r.block >> 16) as u16, bi_lo: r.block as u16 },
        ip_posid: r.offset,
    }
}
