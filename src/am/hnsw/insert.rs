//! `INSERT`: adding one vector to a live index.
//!
//! 1. Search the graph for the new node's neighbours (as a scan does, with
//!    `ef_construction`), skipping nodes vacuum has marked deleted.
//! 2. If an identical vector already has a node with a free TID slot, add
//!    the heap TID there and stop.
//! 3. Write the node (and its links tuple) **and** the link to it from its
//!    nearest neighbour in one WAL record, so that after any crash the node
//!    is reachable. Pages are locked in block order, so two inserts cannot
//!    deadlock.
//! 4. Add the other back-links one WAL record each. Each is computed without
//!    holding a lock (it reads other nodes to prune), then written only if
//!    the list has not changed meanwhile; otherwise it is recomputed.
//! 5. Move the entry point when the new node is higher than it.
//!
//! Inserts hold the `UPDATE_LOCK` page lock shared (exclusive when they may
//! move the entry point), which is what lets vacuum wait for all of them.

use super::alloc::{find_block, free_node_slot, put_links, room_for};
use super::disk::{DiskGraph, Seen};
use super::meta::Meta;
use super::support::payload_of;
use crate::am::common::corrupt;
use crate::am::common::page::{
    add_item, corrupt_at, item_mut, overwrite_item, tuple_at, Buf, PageLock, Wal, UPDATE_LOCK,
};
use crate::hnsw::layout::{Links, LinksMut, Node, NodeLayout, NodeMut, Ref, FLAG_FREE, KIND_LINKS, KIND_NODE};
use crate::hnsw::level::{level_for, splitmix64, unit_from_hash, MAX_LEVEL};
use crate::hnsw::search::{descend, search_layer, HashVisited, Scored, Scratch};
use crate::hnsw::select::{offer, select_links, select_neighbors, Link, Offered};
use crate::hnsw::space::Payload;
use pgrx::pg_sys;

/// `aminsert` (its argument list is Postgres's).
#[pgrx::pg_guard]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C-unwind" fn aminsert(
    index: pg_sys::Relation,
    values: *mut pg_sys::Datum,
    isnull: *mut bool,
    heap_tid: pg_sys::ItemPointer,
    _heap: pg_sys::Relation,
    _check_unique: pg_sys::IndexUniqueCheck::Type,
    _unchanged: bool,
    _info: *mut pg_sys::IndexInfo,
) -> bool {
    // SAFETY: one indexed column; Postgres passes its value, null flag and TID.
    let (value, null, tid) = unsafe { (*values, *isnull, &*heap_tid) };
    if null {
        return false;
    }
    // The detoasted value and the insert's scratch are freed when it ends,
    // not with the statement (finding 3 of issue 14).
    super::support::RowContext::new(c"hnsw insert").run(|| {
        let meta = Meta::read(index);
        // SAFETY: a non-null value of the indexed column.
        if let Some(payload) = unsafe { payload_of(&meta.space, value) } {
            insert_on_disk(index, &payload, crate::am::common::page::ref_from_tid(tid));
        }
    });
    false
}

/// A random level for a new node.
fn random_level(m: usize, heap_tid: Ref) -> usize {
    // SAFETY: pg_prng_uint64 draws from this backend's global generator.
    let r = unsafe { pg_sys::pg_prng_uint64(&raw mut pg_sys::pg_global_prng_state) };
    level_for(unit_from_hash(splitmix64(r ^ heap_tid.pack())), m, MAX_LEVEL)
}

/// Inserts one payload for `heap_tid` (used by `INSERT` and by builds that
/// ran out of memory).
///
/// With a quantizer, the node stores the payload's code, and the search and
/// the neighbour choice compare the decoded code (see `codes.rs`).
pub fn insert_on_disk(index: pg_sys::Relation, payload: &Payload, heap_tid: Ref) {
    let codes = super::codes::load(index, &Meta::read(index));
    let (decoded, stored) = match &codes {
        Some(c) => {
            let code = c.encode(payload.as_bytes());
            (c.decode(&code), code)
        }
        None => (payload.clone(), payload.as_bytes().to_vec()),
    };
    let payload = &decoded;
    let mut lock = PageLock::share(index, UPDATE_LOCK);
    let mut meta = Meta::read(index);
    let level = random_level(meta.layout.m, heap_tid);
    if meta.entry.is_none_or(|(_, top)| level > top) {
        drop(lock);
        lock = PageLock::exclusive(index, UPDATE_LOCK);
        meta = Meta::read(index);
    }
    let _lock = lock;

    let Some((entry, top)) = meta.entry else {
        let chosen = vec![Vec::new(); level + 1];
        let new = NewNode { level, payload, stored: &stored, heap_tid, chosen: &chosen };
        let (node, _) = place(index, &meta, &new, None);
        Meta::update(index, |m| m.entry = Some((node, level)));
        return;
    };

    let mut graph = DiskGraph::new(index, meta.space, meta.layout, Some(payload.clone()), true).with_codes(codes);
    let mut scratch = Scratch::default();
    let Some(entry_distance) = graph.distance(entry) else { corrupt(index, "entry point") };
    let best =
        descend(&mut graph, Scored { id: entry.pack(), distance: entry_distance }, top, level.min(top), &mut scratch);
    let mut entries = vec![best];
    let mut chosen: Vec<Vec<Scored<u64>>> = vec![Vec::new(); level + 1];
    for lc in (0..=level.min(top)).rev() {
        let mut visited = HashVisited::with_capacity(meta.ef_construction * 8);
        let found = search_layer(&mut graph, &entries, meta.ef_construction, lc, &mut visited, &mut scratch, None);
        let live: Vec<Scored<u64>> =
            found.iter().copied().filter(|s| graph.seen.get(&s.id).is_some_and(|n| !n.deleted)).collect();
        if lc == 0 && add_to_duplicate(index, &meta.layout, &graph, &live, payload, heap_tid) {
            return;
        }
        let space = meta.space;
        let same = |c: u64| cached_payload(&graph, c) == payload.as_bytes();
        chosen[lc] = select_neighbors(&live, meta.layout.capacity(lc), true, same, |a, b| {
            space.distance(cached_payload(&graph, a), cached_payload(&graph, b))
        });
        entries = found;
    }

    // The nearest neighbour links back to the new node in the same record.
    let first = chosen[0].first().copied();
    let new = NewNode { level, payload, stored: &stored, heap_tid, chosen: &chosen };
    let (node, dropped) = place(index, &meta, &new, first.map(|f| (f, &mut graph)));
    graph.seen.insert(node.pack(), Seen::with_payload(payload.clone()));
    // What the nearest neighbour dropped for us is offered a link from us.
    for &x in &dropped {
        payload_and_flag(index, &meta.layout, &mut graph, x);
    }
    if let Some(first) = first {
        let lost = Lost { by: Ref::unpack(first.id), from: node, level: 0 };
        relink_dropped(index, &meta.layout, &mut graph, lost, &dropped, None, 1);
    }
    for (lc, list) in chosen.iter().enumerate() {
        for (i, neighbor) in list.iter().enumerate() {
            if lc == 0 && i == 0 {
                continue;
            }
            let link = BackLink {
                node: Ref::unpack(neighbor.id),
                new: node,
                distance: neighbor.distance,
                level: lc,
                force: false,
            };
            link_back(index, &meta.layout, &mut graph, link);
        }
    }
    if level > top {
        Meta::update(index, |m| m.entry = Some((node, level)));
    }
}

fn cached_payload(graph: &DiskGraph, id: u64) -> &[u8] {
    graph.seen.get(&id).and_then(|s| s.payload.as_ref()).map_or(&[], |p| p.as_bytes())
}

/// Adds `heap_tid` to a live node holding exactly this vector, if the
/// search found one. `live` is sorted, closest first. With a quantizer,
/// "this vector" is this code, and the query-to-code distance of an
/// identical code is not exactly the self distance (the query table rounds
/// differently): every candidate is compared (at most ef_construction).
fn add_to_duplicate(
    index: pg_sys::Relation,
    layout: &NodeLayout,
    graph: &DiskGraph,
    live: &[Scored<u64>],
    payload: &Payload,
    heap_tid: Ref,
) -> bool {
    let bound = if graph.is_quantized() { f32::INFINITY } else { graph.space.self_distance(payload.as_bytes()) };
    live.iter()
        .take_while(|s| s.distance <= bound)
        .filter(|s| cached_payload(graph, s.id) == payload.as_bytes())
        .any(|s| super::tids::add_duplicate(index, layout, Ref::unpack(s.id), heap_tid))
}

/// Where a list of links lives: inline in a node tuple (layer 0) or in a
/// links tuple.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct ListAt {
    tuple: Ref,
    inline: bool,
}

/// Finds `node`'s list at `level`, and reads it, under a share lock.
fn read_list(index: pg_sys::Relation, layout: &NodeLayout, node: Ref, level: usize) -> Option<(ListAt, Vec<Ref>)> {
    let buf = Buf::share(index, node.block);
    let n = node_at(index, layout, &buf, node);
    if n.flags() & FLAG_FREE != 0 {
        return None;
    }
    if level == 0 && layout.links0_inline {
        return Some((ListAt { tuple: node, inline: true }, n.links0().collect()));
    }
    let at = n.links_tuple();
    drop(buf);
    if !at.is_valid() {
        return None;
    }
    let buf = Buf::share(index, at.block);
    let Some(links) = Links::parse(tuple_at(index, buf.page(), at, KIND_LINKS), layout) else {
        corrupt_at(index, at.block, &format!("malformed links tuple at item {}", at.offset))
    };
    Some((ListAt { tuple: at, inline: false }, links.at(level).collect()))
}

/// The node tuple `at` (a reference read from the index) on its locked page.
fn node_at<'a>(index: pg_sys::Relation, layout: &'a NodeLayout, buf: &Buf, at: Ref) -> Node<'a> {
    Node::parse(tuple_at(index, buf.page(), at, KIND_NODE), layout)
        .unwrap_or_else(|| corrupt_at(index, at.block, &format!("malformed node at item {}", at.offset)))
}

/// Writes `list` at `level` into the tuple at `at` on an already registered
/// page, if the list there is still `expected`. Returns whether it wrote.
fn write_list(
    page: pg_sys::Page,
    layout: &NodeLayout,
    at: ListAt,
    level: usize,
    expected: &[Ref],
    list: &[Ref],
) -> bool {
    let Some(bytes) = item_mut(page, at.tuple.offset) else {
        return false;
    };
    if at.inline {
        let Some(mut node) = NodeMut::open(bytes, layout) else {
            return false;
        };
        if node.view().flags() & FLAG_FREE != 0 || !node.view().links0().eq(expected.iter().copied()) {
            return false;
        }
        node.set_links0(list);
    } else {
        let Some(current) = Links::parse(bytes, layout) else {
            return false;
        };
        if current.is_free() || !current.at(level).eq(expected.iter().copied()) {
            return false;
        }
        let Some(mut links) = LinksMut::open(bytes, layout) else {
            return false;
        };
        links.set(level, list);
    }
    true
}

/// A link `node → new` at `level` to offer to `node`'s list: what a
/// back-link needs, whoever makes it (an insert, vacuum's repair,
/// reconnection).
#[derive(Clone, Copy, Debug)]
pub(super) struct BackLink {
    pub node: Ref,
    pub new: Ref,
    /// The distance between the two.
    pub distance: f32,
    pub level: usize,
    /// Keep the link even where the pruning heuristic would not.
    pub force: bool,
}

/// What a caller that knows how every node is reached says about a link
/// `node → target`: whether `node`'s list may give it up (it is not the
/// link `target` was reached by). Reconnection knows (its walk's tree);
/// an insert does not, and falls back to [`linked_by_a_neighbor`].
pub(super) type Spare<'a> = Option<&'a dyn Fn(Ref, Ref) -> bool>;

/// The new list of `node` at `level` once `new` (at `distance` from it) is
/// offered to it: appended when there is room, otherwise the heuristic
/// chooses, dropping deleted nodes. `None` when `new` is not kept, unless
/// `force`, which then replaces a link [`forced_victim`] picks.
fn next_list(graph: &mut DiskGraph, current: &[Ref], link: BackLink, spare: Spare) -> Option<Vec<Ref>> {
    let BackLink { node, new, distance, level, force } = link;
    if current.contains(&new) {
        return None;
    }
    let (index, layout) = (graph.index(), &graph.layout.clone());
    let capacity = layout.capacity(level);
    if current.len() < capacity {
        let mut list = current.to_vec();
        list.push(new);
        return Some(list);
    }
    let space = graph.space;
    let node_payload = payload_at(index, layout, graph, node)?;
    let mut candidates: Vec<Scored<u64>> = Vec::with_capacity(current.len() + 1);
    let mut payloads: Vec<(u64, Payload)> = Vec::with_capacity(current.len());
    for &r in current {
        if let Some((p, deleted)) = payload_and_flag(index, layout, graph, r) {
            if !deleted {
                candidates
                    .push(Scored { id: r.pack(), distance: space.distance(node_payload.as_bytes(), p.as_bytes()) });
                payloads.push((r.pack(), p));
            }
        }
    }
    let new_payload = Payload::from_bytes(cached_payload(graph, new.pack()));
    candidates.sort();
    let lookup = |id: u64| -> &[u8] {
        if id == new.pack() {
            return new_payload.as_bytes();
        }
        payloads.iter().find(|(i, _)| *i == id).map_or(&[], |(_, p)| p.as_bytes())
    };
    let same = |c: u64| lookup(c) == node_payload.as_bytes();
    // The statuses the heuristic gives the current links, then the new one
    // offered as the build offers it (one link replaced at most).
    let mut links = select_links(&candidates, capacity, same, |a, b| space.distance(lookup(a), lookup(b)));
    let same_new = new_payload.as_bytes() == node_payload.as_bytes();
    let before = spare.map(|_| links.clone());
    let mut outcome = offer(&mut links, Scored { id: new.pack(), distance }, capacity, same_new, |a, b| {
        space.distance(lookup(a), lookup(b))
    });
    // The heuristic's choice does not get to give up a link some node was
    // reached by.
    if let (Offered::Replaced(gone), Some(spare), Some(before)) = (outcome, spare, before) {
        if !spare(node, Ref::unpack(gone)) {
            links = before;
            outcome = Offered::Rejected;
        }
    }
    match outcome {
        Offered::Added | Offered::Replaced(_) => {}
        Offered::Present => return None,
        Offered::Rejected if !force => return None,
        Offered::Rejected => {
            let victim = forced_victim(index, layout, node, &links, level, spare);
            links.remove(victim);
            let pos = links.partition_point(|l| l.distance <= distance);
            links.insert(pos, Link { id: new.pack(), distance, diverse: true });
        }
    }
    Some(links.iter().map(|l| Ref::unpack(l.id)).collect())
}

/// The link a forced one replaces in `node`'s list: the farthest the
/// heuristic does not need (the diverse links lead out of the
/// neighbourhood, to other clusters) that `spare` allows, or without it,
/// whose target is still linked from elsewhere. Giving up a target's only
/// way in would strand it, and the relink that follows would hang it off
/// the next list, where the next forced link displaces it again: under
/// inner product, where the short vectors are nobody's neighbour, that grew
/// chains of nodes each reachable only through the one before. The old
/// choice (the farthest non-diverse link) is the last resort.
fn forced_victim(
    index: pg_sys::Relation,
    layout: &NodeLayout,
    node: Ref,
    links: &[Link<u64>],
    level: usize,
    spare: Spare,
) -> usize {
    let safe = |l: &Link<u64>| match spare {
        Some(spare) => spare(node, Ref::unpack(l.id)),
        None => linked_by_a_neighbor(index, layout, Ref::unpack(l.id), level),
    };
    let farthest = |diverse: bool| links.iter().rposition(|l| l.diverse == diverse && safe(l));
    farthest(false)
        .or_else(|| farthest(true))
        .unwrap_or_else(|| links.iter().rposition(|l| !l.diverse).unwrap_or(links.len() - 1))
}

fn payload_at(index: pg_sys::Relation, layout: &NodeLayout, graph: &mut DiskGraph, node: Ref) -> Option<Payload> {
    payload_and_flag(index, layout, graph, node).map(|(p, _)| p)
}

/// A node's payload and whether it is deleted, from the search's cache or
/// its page.
fn payload_and_flag(
    index: pg_sys::Relation,
    layout: &NodeLayout,
    graph: &mut DiskGraph,
    node: Ref,
) -> Option<(Payload, bool)> {
    if let Some(seen) = graph.seen.get(&node.pack()) {
        if let Some(p) = &seen.payload {
            return Some((p.clone(), seen.deleted));
        }
    }
    let buf = Buf::share(index, node.block);
    let n = node_at(index, layout, &buf, node);
    if n.is_free() {
        return None;
    }
    let (payload, deleted) = (graph.payload_of_stored(n.payload()), n.is_deleted());
    drop(buf);
    let mut seen = Seen::with_payload(payload.clone());
    seen.deleted = deleted;
    graph.seen.insert(node.pack(), seen);
    Some((payload, deleted))
}

/// Adds the link `node → new` at `level` if the pruning heuristic keeps it
/// (always, with `force`), retrying when a concurrent change to the list
/// gets there first.
///
/// When the list was full, making room dropped a link `node → x`. If that
/// was `x`'s last incoming link, no search could reach `x` (its row would
/// be returned by no scan until VACUUM reconnects it). So each dropped `x`
/// that none of its own neighbours links back to gets a forced link from
/// `new` (the heuristic dropped `x` because `new` is closer to it than
/// `node` is), which may drop one of `new`'s links, checked the same way,
/// up to [`RELINK_DEPTH`] times.
pub(super) fn link_back(index: pg_sys::Relation, layout: &NodeLayout, graph: &mut DiskGraph, link: BackLink) {
    pass_on(index, layout, graph, link, None, 0);
}

/// [`link_back`] where `spare` says which links may be given up.
pub(super) fn link_back_sparing(
    index: pg_sys::Relation,
    layout: &NodeLayout,
    graph: &mut DiskGraph,
    link: BackLink,
    spare: &dyn Fn(Ref, Ref) -> bool,
) {
    pass_on(index, layout, graph, link, Some(spare), 0);
}

/// How many times a dropped link is passed on, at most, in one chain.
const RELINK_DEPTH: usize = 8;

fn pass_on(
    index: pg_sys::Relation,
    layout: &NodeLayout,
    graph: &mut DiskGraph,
    link: BackLink,
    spare: Spare,
    depth: usize,
) {
    let dropped = add_link(index, layout, graph, link, spare);
    let lost = Lost { by: link.node, from: link.new, level: link.level };
    relink_dropped(index, layout, graph, lost, &dropped, spare, depth + 1);
}

/// Links `by`'s list at `level` just gave up, to be offered from `from`.
#[derive(Clone, Copy)]
struct Lost {
    by: Ref,
    from: Ref,
    level: usize,
}

/// Gives each node in `dropped` (links `lost.by`'s list just gave up) a
/// forced link from `lost.from` if nothing else is known to link to it.
fn relink_dropped(
    index: pg_sys::Relation,
    layout: &NodeLayout,
    graph: &mut DiskGraph,
    lost: Lost,
    dropped: &[Ref],
    spare: Spare,
    depth: usize,
) {
    let Lost { by, from, level } = lost;
    if depth > RELINK_DEPTH {
        return;
    }
    let space = graph.space;
    for &x in dropped {
        let (Some(a), Some(b)) = (graph.seen.get(&from.pack()), graph.seen.get(&x.pack())) else { continue };
        let (Some(pa), Some(pb)) = (&a.payload, &b.payload) else { continue };
        let still_linked = match spare {
            Some(spare) => spare(by, x),
            None => linked_by_a_neighbor(index, layout, x, level),
        };
        if b.deleted || still_linked {
            continue;
        }
        let distance = space.distance(pa.as_bytes(), pb.as_bytes());
        pass_on(index, layout, graph, BackLink { node: from, new: x, distance, level, force: true }, spare, depth);
    }
}

/// Whether `x` still has an incoming link at `level` from something that is
/// itself linked: one of `x`'s own neighbours links back to `x` and is
/// linked back to by one of *its* neighbours other than `x`. That is the
/// cheap check (a full one would need the in-degree, which the index does
/// not keep); neighbourhoods are mostly mutual, so it rarely misses a link,
/// and the second step catches two nodes left linking only each other.
pub(super) fn linked_by_a_neighbor(index: pg_sys::Relation, layout: &NodeLayout, x: Ref, level: usize) -> bool {
    let Some((_, out)) = read_list(index, layout, x, level) else {
        return true; // freed meanwhile: nothing to keep reachable
    };
    let links_to = |from: Ref, to: Ref| read_list(index, layout, from, level).is_some_and(|(_, l)| l.contains(&to));
    out.iter().any(|&o| {
        read_list(index, layout, o, level)
            .is_some_and(|(_, o_out)| o_out.contains(&x) && o_out.iter().any(|&p| p != x && links_to(p, o)))
    })
}

/// One attempt-until-written of `node → new`; returns the links the change
/// dropped from `node`'s list.
fn add_link(
    index: pg_sys::Relation,
    layout: &NodeLayout,
    graph: &mut DiskGraph,
    link: BackLink,
    spare: Spare,
) -> Vec<Ref> {
    let level = link.level;
    for _attempt in 0..16 {
        let Some((at, current)) = read_list(index, layout, link.node, level) else {
            return Vec::new();
        };
        let Some(list) = next_list(graph, &current, link, spare) else {
            return Vec::new();
        };
        let buf = Buf::exclusive(index, at.tuple.block);
        let mut wal = Wal::start(index);
        let page = wal.register(&buf);
        if write_list(page, layout, at, level, &current, &list) {
            wal.finish();
            return current.into_iter().filter(|r| !list.contains(r)).collect();
        }
        wal.abort();
    }
    Vec::new()
}

/// A node to write: its level, its payload as the graph compares it, what
/// the tuple holds (`stored`: the payload, or with a quantizer its code),
/// its heap TID and its chosen neighbours per level.
struct NewNode<'a> {
    level: usize,
    payload: &'a Payload,
    stored: &'a [u8],
    heap_tid: Ref,
    chosen: &'a [Vec<Scored<u64>>],
}

/// Writes a new node (and its links tuple) and, in the same WAL record, the
/// link to it from `first`, its nearest neighbour at layer 0 (kept even if
/// the pruning heuristic would drop it). Returns the node's TID and the links
/// the neighbour dropped to make room.
fn place(
    index: pg_sys::Relation,
    meta: &Meta,
    new: &NewNode,
    mut first: Option<(Scored<u64>, &mut DiskGraph)>,
) -> (Ref, Vec<Ref>) {
    let NewNode { level, payload, stored, heap_tid, chosen } = *new;
    let layout = &meta.layout;
    let links_size = layout.needs_links_tuple(level).then(|| layout.links_size(level));
    // Stands for the new node in the neighbour's list until its TID is known.
    let placeholder = Ref { block: u32::MAX - 1, offset: u16::MAX };
    if let Some((_, graph)) = first.as_mut() {
        graph.seen.insert(placeholder.pack(), Seen::with_payload(payload.clone()));
    }
    let node_size = layout.node_size_for(stored.len());
    let mut start = meta.insert_block.max(1);
    for _attempt in 0..64 {
        let node_block = find_block(index, layout, start, node_size, true, None);
        let links_block = links_size.map(|size| {
            if room_for(index, layout, node_block, node_size, size) {
                node_block
            } else {
                find_block(index, layout, start, size, false, Some(node_block))
            }
        });
        // The first back-link, computed before taking any exclusive lock.
        let mut backlink = None;
        if let Some((nearest, graph)) = first.as_mut() {
            let target = Ref::unpack(nearest.id);
            if let Some((at, current)) = read_list(index, layout, target, 0) {
                let offered =
                    BackLink { node: target, new: placeholder, distance: nearest.distance, level: 0, force: true };
                let list = next_list(graph, &current, offered, None);
                backlink = list.map(|list| (at, current, list));
            }
        }

        // Lock every page of the change in block order.
        let mut blocks: Vec<u32> = vec![node_block];
        blocks.extend(links_block);
        blocks.extend(backlink.as_ref().map(|(at, ..)| at.tuple.block));
        blocks.sort_unstable();
        blocks.dedup();
        let bufs: Vec<Buf> = blocks.iter().map(|&b| Buf::exclusive(index, b)).collect();
        let mut wal = Wal::start(index);
        let pages: Vec<pg_sys::Page> = bufs.iter().map(|b| wal.register(b)).collect();
        let page_of = |block: u32| pages[blocks.iter().position(|&b| b == block).unwrap_or(0)];

        // The links tuple first: the node points at it.
        let mut links_ref = Ref::INVALID;
        if let (Some(size), Some(block)) = (links_size, links_block) {
            let mut tuple = vec![0u8; size];
            let mut links = LinksMut::init(&mut tuple, layout, level);
            for (lc, list) in chosen.iter().enumerate().skip(usize::from(layout.links0_inline)) {
                links.set(lc, &refs(list));
            }
            match put_links(page_of(block), layout, &tuple) {
                Some(offset) => links_ref = Ref { block, offset },
                None => {
                    wal.abort();
                    start = block + 1;
                    continue;
                }
            }
        }
        let (version, slot) = free_node_slot(page_of(node_block), layout, node_size);
        let mut bytes = vec![0u8; node_size];
        let mut node = NodeMut::init(&mut bytes, layout, level, version, stored);
        node.set_tids(&[heap_tid]);
        node.set_links_tuple(links_ref);
        if layout.links0_inline {
            node.set_links0(&refs(&chosen[0]));
        }
        let offset = match slot {
            Some(offset) => overwrite_item(page_of(node_block), offset, &bytes).then_some(offset),
            None => add_item(page_of(node_block), &bytes),
        };
        let Some(offset) = offset else {
            wal.abort();
            start = node_block + 1;
            continue;
        };
        let me = Ref { block: node_block, offset };
        if let Some((at, current, list)) = &backlink {
            let list: Vec<Ref> = list.iter().map(|&r| if r == placeholder { me } else { r }).collect();
            if !write_list(page_of(at.tuple.block), layout, *at, 0, current, &list) {
                wal.abort();
                continue;
            }
        }
        wal.finish();
        drop(bufs);
        if node_block > meta.insert_block {
            Meta::update(index, |m| m.insert_block = m.insert_block.max(node_block));
        }
        let dropped = backlink
            .map_or(Vec::new(), |(_, current, list)| current.into_iter().filter(|r| !list.contains(r)).collect());
        return (me, dropped);
    }
    pgrx::error!("could not place a new hnsw node after repeated concurrent changes")
}

fn refs(list: &[Scored<u64>]) -> Vec<Ref> {
    list.iter().map(|s| Ref::unpack(s.id)).collect()
}
