//! The graph as it lies on the index's pages, seen from one query: the
//! [`GraphView`] that scans and inserts search with.
//!
//! Node ids are packed [`Ref`]s. Scoring a node reads its tuple once, under
//! a share lock, and keeps what a search needs of it afterwards: its heap
//! TIDs, its flags and, when the layout has them inline, its layer-0 links,
//! so that expanding it later reads no page. Nodes to score are grouped by
//! block so each page is read once per batch.

use super::codes::Codes;
use crate::am::common::page::{corrupt_at, item, prefetch, prefetch_block, tuple_at, Buf};
use crate::hnsw::layout::{Links, Node, NodeLayout, Ref, KIND_LINKS, KIND_NODE};
use crate::hnsw::search::{GraphView, IdHasher};
use crate::hnsw::space::{Payload, Space};
use pgrx::pg_sys;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;

/// What a search keeps of a node it scored.
#[derive(Clone, Debug)]
pub struct Seen {
    pub deleted: bool,
    /// The node's inline heap TIDs, in [`DiskGraph::tids`].
    tids: (u32, u8),
    /// The node's first overflow tuple of more heap TIDs, if any.
    pub overflow: Ref,
    links0: Option<(u32, u16)>,
    /// A copy of the payload, when the caller asked for them (inserts need
    /// distances between candidates).
    pub payload: Option<Payload>,
}

impl Seen {
    /// A node known only by its payload (an insertion's own new node).
    pub fn with_payload(payload: Payload) -> Seen {
        Seen { deleted: false, tids: (0, 0), overflow: Ref::INVALID, links0: None, payload: Some(payload) }
    }
}

pub type SeenMap = HashMap<u64, Seen, BuildHasherDefault<IdHasher>>;

/// The on-disk graph, from the point of view of one query.
pub struct DiskGraph {
    index: pg_sys::Relation,
    pub layout: NodeLayout,
    pub space: Space,
    /// The query's payload; `None` for a NULL query, to which every node is
    /// at distance 0 (pgvector's behaviour).
    query: Option<Payload>,
    keep_payloads: bool,
    pub seen: SeenMap,
    links_arena: Vec<u64>,
    tids_arena: Vec<Ref>,
    pinned: Vec<(u32, Buf)>,
    order: Vec<usize>,
    /// Bytes held in `seen` and the arena, for the scan memory limit.
    pub memory: usize,
    /// Node tuples read, and buffer pins taken to read them and links
    /// tuples (for the scan's DEBUG2 line; hits and misses alike).
    pub reads: usize,
    pub pins: usize,
    /// With a quantizer: nodes hold codes, scored against the query through
    /// this table; kept payloads are the decoded codes.
    codes: Option<Codes>,
    table: Option<crate::quant::QueryTable>,
}

impl DiskGraph {
    /// The index this graph reads.
    pub fn index(&self) -> pg_sys::Relation {
        self.index
    }

    pub fn new(
        index: pg_sys::Relation,
        space: Space,
        layout: NodeLayout,
        query: Option<Payload>,
        keep_payloads: bool,
    ) -> Self {
        let arenas = super::spare::take_arenas();
        DiskGraph {
            index,
            layout,
            space,
            query,
            keep_payloads,
            seen: arenas.seen,
            links_arena: arenas.links,
            tids_arena: arenas.tids,
            pinned: Vec::new(),
            order: Vec::new(),
            memory: 0,
            reads: 0,
            pins: 0,
            codes: None,
            table: None,
        }
    }

    /// Makes this the graph of a quantized index: nodes hold codes of
    /// `codes`, and the query is compared with them asymmetrically.
    pub fn with_codes(mut self, codes: Option<Codes>) -> Self {
        self.table = match (&codes, &self.query) {
            (Some(c), Some(q)) => Some(c.table(q.as_bytes())),
            _ => None,
        };
        self.codes = codes;
        self
    }

    /// Whether nodes hold codes (the index has a quantizer).
    pub fn is_quantized(&self) -> bool {
        self.codes.is_some()
    }

    /// The payload a node's stored bytes stand for: the bytes themselves,
    /// or with a quantizer the decoded code.
    pub fn payload_of_stored(&self, stored: &[u8]) -> Payload {
        match &self.codes {
            Some(c) => c.decode(stored),
            None => Payload::from_bytes(stored),
        }
    }

    /// The inline heap TIDs of a node the search scored.
    pub fn tids(&self, seen: &Seen) -> &[Ref] {
        &self.tids_arena[seen.tids.0 as usize..seen.tids.0 as usize + usize::from(seen.tids.1)]
    }

    /// Scores one node.
    pub fn distance(&mut self, id: Ref) -> Option<f32> {
        let mut out = Vec::with_capacity(1);
        self.distances(&[id.pack()], &mut out);
        out[0]
    }

    /// Reads a node's links at `level` from its page(s).
    fn read_links(&mut self, id: Ref, level: usize, out: &mut Vec<u64>) {
        // Every search step reads pages here or in `distances`: the place
        // to let a long search be cancelled, before any lock is taken.
        pgrx::check_for_interrupts!();
        self.pins += 1;
        let buf = Buf::share(self.index, id.block);
        let bytes = tuple_at(self.index, buf.page(), id, KIND_NODE);
        let Some(node) = Node::parse(bytes, &self.layout) else { corrupt_at(self.index, id.block, "malformed node") };
        if node.is_free() {
            return;
        }
        if level == 0 && self.layout.links0_inline {
            out.extend(node.links0().map(Ref::pack));
            return;
        }
        let links_ref = node.links_tuple();
        drop(buf);
        if !links_ref.is_valid() {
            return;
        }
        self.pins += 1;
        let buf = Buf::share(self.index, links_ref.block);
        let bytes = tuple_at(self.index, buf.page(), links_ref, KIND_LINKS);
        let Some(links) = Links::parse(bytes, &self.layout) else {
            corrupt_at(self.index, links_ref.block, "malformed links tuple")
        };
        out.extend(links.at(level).map(Ref::pack));
    }
}

impl Drop for DiskGraph {
    fn drop(&mut self) {
        super::spare::keep_arenas(super::spare::Arenas {
            seen: std::mem::take(&mut self.seen),
            links: std::mem::take(&mut self.links_arena),
            tids: std::mem::take(&mut self.tids_arena),
        });
    }
}

impl GraphView for DiskGraph {
    type Id = u64;

    fn neighbors(&mut self, id: u64, level: usize, out: &mut Vec<u64>) {
        if level == 0 {
            if let Some((start, len)) = self.seen.get(&id).and_then(|s| s.links0) {
                out.extend_from_slice(&self.links_arena[start as usize..start as usize + usize::from(len)]);
                return;
            }
        }
        self.read_links(Ref::unpack(id), level, out);
    }

    fn distances(&mut self, ids: &[u64], out: &mut Vec<Option<f32>>) {
        pgrx::check_for_interrupts!(); // as in `read_links`
        let base = out.len();
        out.resize(base + ids.len(), None);
        self.order.clear();
        self.order.extend(0..ids.len());
        self.order.sort_unstable_by_key(|&i| ids[i]);
        // The cache misses of a batch are what a search waits on, so they
        // are made to overlap: first the descriptors and headers of every
        // block, then every node tuple, then the distances.
        let mut last = u32::MAX;
        for &slot in &self.order {
            let block = Ref::unpack(ids[slot]).block;
            if block != last {
                prefetch_block(self.index, block);
                last = block;
            }
        }
        self.pinned.clear();
        let mut i = 0;
        while i < self.order.len() {
            let block = Ref::unpack(ids[self.order[i]]).block;
            let mut buf = Buf::pinned(self.index, block);
            self.pins += 1;
            buf.lock_share();
            let page = buf.page();
            while i < self.order.len() && Ref::unpack(ids[self.order[i]]).block == block {
                if let Some(bytes) = item(page, Ref::unpack(ids[self.order[i]]).offset) {
                    prefetch(bytes.as_ptr(), bytes.len());
                }
                i += 1;
            }
            buf.unlock();
            self.pinned.push((block, buf));
        }
        let mut pinned = std::mem::take(&mut self.pinned);
        let mut i = 0;
        for (block, buf) in pinned.iter_mut() {
            buf.lock_share();
            let page = buf.page();
            let start = i;
            while i < self.order.len() && Ref::unpack(ids[self.order[i]]).block == *block {
                if let Some(bytes) = item(page, Ref::unpack(ids[self.order[i]]).offset) {
                    prefetch(bytes.as_ptr(), bytes.len());
                }
                i += 1;
            }
            for &slot in &self.order[start..i] {
                let id = ids[slot];
                let bytes = tuple_at(self.index, page, Ref::unpack(id), KIND_NODE);
                let Some(node) = Node::parse(bytes, &self.layout) else {
                    corrupt_at(self.index, *block, "malformed node")
                };
                self.reads += 1;
                if node.is_free() {
                    continue;
                }
                out[base + slot] = Some(match (&self.table, &self.query) {
                    (Some(t), _) => t.distance(node.payload()),
                    (None, Some(q)) => self.space.distance(q.as_bytes(), node.payload()),
                    (None, None) => 0.0,
                });
                let links0 = if self.layout.links0_inline {
                    let start = self.links_arena.len() as u32;
                    self.links_arena.extend(node.links0().map(Ref::pack));
                    Some((start, (self.links_arena.len() as u32 - start) as u16))
                } else {
                    None
                };
                let tids_start = self.tids_arena.len() as u32;
                self.tids_arena.extend(node.tids());
                let seen = Seen {
                    deleted: node.is_deleted(),
                    tids: (tids_start, node.ntids() as u8),
                    overflow: node.overflow(),
                    links0,
                    payload: self.keep_payloads.then(|| match &self.codes {
                        Some(c) => c.decode(node.payload()),
                        None => Payload::from_bytes(node.payload()),
                    }),
                };
                self.memory += 48 + node.ntids() * 6 + links0.map_or(0, |l| usize::from(l.1) * 8);
                self.memory += seen.payload.as_ref().map_or(0, |p| p.len());
                self.seen.insert(id, seen);
            }
            buf.unlock();
        }
        pinned.clear();
        self.pinned = pinned;
    }
}
