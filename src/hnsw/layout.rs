//! How an HNSW index lies on 8 KB pages. Pure byte layout: the Postgres
//! shell (`am/`) finds the tuples on buffers and hands their bytes here.
//!
//! # The design
//!
//! Block 0 is the **meta page**: what the index stores (element type,
//! metric, dimensions, `m`, `ef_construction`, the node layout below) and
//! the mutable entry point and insertion hint. Every other block is a
//! **data page** holding two kinds of tuples, addressed by TID
//! (block, line pointer) so they never move:
//!
//! * A **node tuple** per indexed vector, all of one size in an index:
//!
//!   ```text
//!   0   kind u8 = 1 | flags u8 | level u8 | version u8 | ntids u8 | - | nlinks0 u16
//!   8   links tuple TID (6 bytes)  | - (2)
//!   16  overflow tuple TID (6 bytes) | payload length u16 (variable layouts)
//!   24  heap TIDs: max_tids × 6 bytes (rows with this exact vector)
//!   ..  layer-0 links: 2m × 6 bytes (when inline), 4-byte aligned
//!   ..  payload: the vector (or, with a quantizer, its code), 4-byte aligned
//!   ```
//!
//! * A **links tuple** for each node above level 0: its links on levels
//!   `1..=level` (`m` each), and also its layer-0 links when those do not fit
//!   inline.
//!
//! The layer-0 links live *inside* the node tuple next to the vector. A
//! search computes a node's distance and, in the same buffer access, picks
//! up the node's neighbour list; expanding that node later costs no page
//! read. (pgvector keeps them in a separate tuple, so each expansion is one
//! more buffer access.) Upper levels hold about 1/m of the nodes and are
//! only walked once per search, so they can live a pointer away.
//!
//! * An **overflow tuple** holds up to 128 more heap TIDs of a node, chained
//!   from the node.
//!
//! Identical vectors share one node: its first `max_tids` heap TIDs inline
//! (the layout picks the largest `max_tids`, at most 10, that costs at most a
//! tenth of the nodes a page holds), the rest in its overflow chain. So a
//! table with a thousand copies of one vector has one node for them, not a
//! clique of copies that pruning would cut out of the graph.
//!
//! Node counts per page, `m = 16`, full-precision `vector` (each node pays
//! its 4-byte line pointer; a page offers 8160 bytes):
//!
//! | dims | payload | node tuple | heap TID slots | nodes per page | layer-0 links |
//! |-----:|--------:|-----------:|---------------:|---------------:|---------------|
//! |  128 |   512 B |      788 B |             10 |             10 | inline        |
//! |  384 |  1536 B |     1812 B |             10 |              4 | inline        |
//! |  768 |  3072 B |     3348 B |             10 |              2 | inline        |
//! | 1536 |  6144 B |     6420 B |             10 |              1 | inline        |
//! | 2000 |  8000 B |     8084 B |             10 |              1 | links tuple   |
//!
//! (`node_tuple_size_table` in the tests checks these figures.) With a
//! quantizer the payload shrinks to the code: an 8-bit code of a 1536-dim
//! vector makes a node ~1.8 KB, four per page instead of one.
//!
//! `sparsevec` payloads vary in length, so its nodes do too: a *variable*
//! layout sizes every node by its own payload (the length sits in the
//! header), keeps layer-0 links in the links tuple (a node with the most
//! non-zeros pgvector's index takes, 1000, leaves no room for them), and
//! packs pages by the nodes' actual sizes. A node of 100 non-zeros is
//! 888 bytes, nine to a page.
//!
//! Deleted nodes are first marked `DELETED` (no heap TIDs left, still
//! traversed), then, once no link points at them, `FREE`: their slot is
//! reused for the next insertion, with `version` bumped so that a scan
//! holding the old TID notices.

/// Tuple kinds, the first byte of every tuple on a data page.
pub const KIND_NODE: u8 = 1;
pub const KIND_LINKS: u8 = 2;
pub const KIND_TIDS: u8 = 3;

/// Node flags.
pub const FLAG_DELETED: u8 = 1;
pub const FLAG_FREE: u8 = 2;

/// Most heap TIDs a node carries inline.
pub const MAX_TIDS: usize = 10;
/// Heap TIDs one overflow tuple holds.
pub const OVERFLOW_TIDS: usize = 128;

const REF_SIZE: usize = 6;
const NODE_HEADER: usize = 24;
const TIDS_HEADER: usize = 16;
const LINKS_HEADER: usize = 8;

/// Bytes Postgres gives tuples on one page: 8192 minus the 24-byte page
/// header and our 8-byte special space.
pub const PAGE_TUPLE_SPACE: usize = 8192 - 24 - 8;
/// Per-tuple overhead on a page: its line pointer.
pub const LINE_POINTER: usize = 4;

/// A TID inside the index: block and line pointer (offset, 1-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ref {
    pub block: u32,
    pub offset: u16,
}

impl Ref {
    pub const INVALID: Ref = Ref { block: u32::MAX, offset: 0 };

    pub fn is_valid(self) -> bool {
        self.block != u32::MAX && self.offset != 0
    }

    /// Packed into one integer, for hash sets and search ids.
    pub fn pack(self) -> u64 {
        (u64::from(self.block) << 16) | u64::from(self.offset)
    }

    pub fn unpack(v: u64) -> Ref {
        Ref { block: (v >> 16) as u32, offset: v as u16 }
    }

    fn read(b: &[u8]) -> Ref {
        Ref { block: u32::from_le_bytes([b[0], b[1], b[2], b[3]]), offset: u16::from_le_bytes([b[4], b[5]]) }
    }

    fn write(self, b: &mut [u8]) {
        b[..4].copy_from_slice(&self.block.to_le_bytes());
        b[4..6].copy_from_slice(&self.offset.to_le_bytes());
    }
}

fn align4(n: usize) -> usize {
    n.div_ceil(4) * 4
}

/// MAXALIGN on the platforms Postgres runs on.
pub fn maxalign(n: usize) -> usize {
    n.div_ceil(8) * 8
}

/// The shape of node and links tuples in one index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeLayout {
    pub m: usize,
    /// The payload length, or for a variable layout the longest.
    pub payload_len: usize,
    pub max_tids: usize,
    pub links0_inline: bool,
    /// Payloads (and so nodes) of different lengths, up to `payload_len`.
    pub variable: bool,
}

impl NodeLayout {
    /// The layout for `payload_len`-byte payloads and `m`: layer-0 links
    /// inline when the node still fits a page, and as many heap TID slots as
    /// fit without costing a node per page. `None` when a node cannot fit a
    /// page at all.
    pub fn choose(payload_len: usize, m: usize) -> Option<NodeLayout> {
        let fits = |l: &NodeLayout| maxalign(l.node_size()) + LINE_POINTER <= PAGE_TUPLE_SPACE;
        let mut layout = NodeLayout { m, payload_len, max_tids: 1, links0_inline: true, variable: false };
        if !fits(&layout) {
            layout.links0_inline = false;
            if !fits(&layout) || maxalign(layout.links_size(0)) + LINE_POINTER > PAGE_TUPLE_SPACE {
                return None;
            }
        }
        // At most a tenth fewer nodes per page for the extra TID slots.
        let floor = (layout.nodes_per_page() * 9).div_ceil(10);
        while layout.max_tids < MAX_TIDS {
            let more = NodeLayout { max_tids: layout.max_tids + 1, ..layout };
            if !fits(&more) || more.nodes_per_page() < floor {
                break;
            }
            layout = more;
        }
        Some(layout)
    }

    /// [`NodeLayout::choose`] for payloads of any length up to
    /// `max_payload_len`: the layout for the longest, with layer-0 links
    /// always in the links tuple (so that a short node stays short).
    pub fn choose_variable(max_payload_len: usize, m: usize) -> Option<NodeLayout> {
        let longest = NodeLayout::choose(max_payload_len, m)?;
        let layout = NodeLayout { links0_inline: false, variable: true, ..longest };
        (maxalign(layout.node_size()) + LINE_POINTER <= PAGE_TUPLE_SPACE).then_some(layout)
    }

    /// Bytes of a node tuple with a payload of `payload_len` bytes.
    pub fn node_size_for(&self, payload_len: usize) -> usize {
        self.payload_offset() + if self.variable { payload_len } else { self.payload_len }
    }

    /// The smallest node tuple of this layout.
    fn min_node_size(&self) -> usize {
        self.node_size_for(if self.variable { 0 } else { self.payload_len })
    }

    pub fn links0_capacity(&self) -> usize {
        2 * self.m
    }

    /// Link capacity at `level`.
    pub fn capacity(&self, level: usize) -> usize {
        if level == 0 {
            2 * self.m
        } else {
            self.m
        }
    }

    fn tids_offset(&self) -> usize {
        NODE_HEADER
    }

    fn links0_offset(&self) -> usize {
        align4(NODE_HEADER + self.max_tids * REF_SIZE)
    }

    fn payload_offset(&self) -> usize {
        let links = if self.links0_inline { self.links0_capacity() * REF_SIZE } else { 0 };
        align4(self.links0_offset() + links)
    }

    /// Bytes of a node tuple (the largest, for a variable layout).
    pub fn node_size(&self) -> usize {
        self.payload_offset() + self.payload_len
    }

    /// Node tuples that fit on an empty page.
    pub fn nodes_per_page(&self) -> usize {
        PAGE_TUPLE_SPACE / (maxalign(self.node_size()) + LINE_POINTER)
    }

    /// Whether a node at `level` needs a links tuple.
    pub fn needs_links_tuple(&self, level: usize) -> bool {
        level > 0 || !self.links0_inline
    }

    /// The first level stored in the links tuple.
    fn links_from(&self) -> usize {
        if self.links0_inline {
            1
        } else {
            0
        }
    }

    /// Bytes of the links tuple of a node at `level`.
    pub fn links_size(&self, level: usize) -> usize {
        let lists: usize = (self.links_from()..=level).map(|l| 2 + self.capacity(l) * REF_SIZE).sum();
        align4(LINKS_HEADER + lists)
    }

    /// Offset of level `level`'s list in a links tuple.
    fn links_level_offset(&self, level: usize) -> usize {
        LINKS_HEADER + (self.links_from()..level).map(|l| 2 + self.capacity(l) * REF_SIZE).sum::<usize>()
    }
}

/// Read access to a node tuple's bytes.
#[derive(Clone, Copy)]
pub struct Node<'a> {
    bytes: &'a [u8],
    layout: &'a NodeLayout,
}

impl<'a> Node<'a> {
    /// `None` if the bytes are not a well-formed node tuple of this layout.
    pub fn parse(bytes: &'a [u8], layout: &'a NodeLayout) -> Option<Self> {
        if bytes.len() < layout.min_node_size() || bytes[0] != KIND_NODE || bytes[4] as usize > layout.max_tids {
            return None;
        }
        let node = Node { bytes, layout };
        if node.payload_end() > bytes.len() {
            return None;
        }
        if layout.links0_inline && node.links0_len() > layout.links0_capacity() {
            return None;
        }
        Some(node)
    }

    pub fn flags(&self) -> u8 {
        self.bytes[1]
    }

    pub fn is_free(&self) -> bool {
        self.flags() & FLAG_FREE != 0
    }

    pub fn is_deleted(&self) -> bool {
        self.flags() & FLAG_DELETED != 0
    }

    pub fn level(&self) -> usize {
        usize::from(self.bytes[2])
    }

    pub fn version(&self) -> u8 {
        self.bytes[3]
    }

    pub fn ntids(&self) -> usize {
        usize::from(self.bytes[4])
    }

    fn links0_len(&self) -> usize {
        usize::from(u16::from_le_bytes([self.bytes[6], self.bytes[7]]))
    }

    pub fn links_tuple(&self) -> Ref {
        Ref::read(&self.bytes[8..14])
    }

    /// The first overflow tuple of heap TIDs (invalid when none).
    pub fn overflow(&self) -> Ref {
        Ref::read(&self.bytes[16..22])
    }

    pub fn tid(&self, i: usize) -> Ref {
        let at = self.layout.tids_offset() + i * REF_SIZE;
        Ref::read(&self.bytes[at..at + REF_SIZE])
    }

    pub fn tids(&self) -> impl Iterator<Item = Ref> + '_ {
        (0..self.ntids()).map(|i| self.tid(i))
    }

    /// The inline layer-0 links (empty when the layout keeps them in the
    /// links tuple).
    pub fn links0(&self) -> impl Iterator<Item = Ref> + '_ {
        let n = if self.layout.links0_inline { self.links0_len() } else { 0 };
        let base = self.layout.links0_offset();
        (0..n).map(move |i| Ref::read(&self.bytes[base + i * REF_SIZE..base + (i + 1) * REF_SIZE]))
    }

    fn payload_end(&self) -> usize {
        let len = if self.layout.variable {
            usize::from(u16::from_le_bytes([self.bytes[22], self.bytes[23]]))
        } else {
            self.layout.payload_len
        };
        self.layout.payload_offset() + len
    }

    pub fn payload(&self) -> &'a [u8] {
        &self.bytes[self.layout.payload_offset()..self.payload_end()]
    }
}

/// Write access to a node tuple's bytes.
pub struct NodeMut<'a> {
    bytes: &'a mut [u8],
    layout: &'a NodeLayout,
}

impl<'a> NodeMut<'a> {
    /// Formats `bytes` (at least `layout.node_size_for(payload.len())`
    /// long) as a fresh node.
    pub fn init(bytes: &'a mut [u8], layout: &'a NodeLayout, level: usize, version: u8, payload: &[u8]) -> Self {
        assert!(if layout.variable {
            payload.len() <= layout.payload_len
        } else {
            payload.len() == layout.payload_len
        });
        bytes[..layout.node_size_for(payload.len())].fill(0);
        bytes[0] = KIND_NODE;
        bytes[2] = level as u8;
        bytes[3] = version;
        Ref::INVALID.write(&mut bytes[8..14]);
        Ref::INVALID.write(&mut bytes[16..22]);
        if layout.variable {
            bytes[22..24].copy_from_slice(&(payload.len() as u16).to_le_bytes());
        }
        let at = layout.payload_offset();
        bytes[at..at + payload.len()].copy_from_slice(payload);
        NodeMut { bytes, layout }
    }

    /// Opens existing node bytes for change; `None` if they are not a node.
    pub fn open(bytes: &'a mut [u8], layout: &'a NodeLayout) -> Option<Self> {
        Node::parse(bytes, layout)?;
        Some(NodeMut { bytes, layout })
    }

    pub fn view(&self) -> Node<'_> {
        Node { bytes: self.bytes, layout: self.layout }
    }

    pub fn set_flags(&mut self, flags: u8) {
        self.bytes[1] = flags;
    }

    pub fn set_links_tuple(&mut self, r: Ref) {
        r.write(&mut self.bytes[8..14]);
    }

    pub fn set_overflow(&mut self, r: Ref) {
        r.write(&mut self.bytes[16..22]);
    }

    /// Replaces the heap TIDs (at most `max_tids`).
    pub fn set_tids(&mut self, tids: &[Ref]) {
        assert!(tids.len() <= self.layout.max_tids);
        self.bytes[4] = tids.len() as u8;
        for (i, t) in tids.iter().enumerate() {
            let at = self.layout.tids_offset() + i * REF_SIZE;
            t.write(&mut self.bytes[at..at + REF_SIZE]);
        }
    }

    /// Replaces the inline layer-0 links (at most `2m`).
    pub fn set_links0(&mut self, links: &[Ref]) {
        assert!(self.layout.links0_inline && links.len() <= self.layout.links0_capacity());
        self.bytes[6..8].copy_from_slice(&(links.len() as u16).to_le_bytes());
        let base = self.layout.links0_offset();
        for (i, r) in links.iter().enumerate() {
            r.write(&mut self.bytes[base + i * REF_SIZE..base + (i + 1) * REF_SIZE]);
        }
    }
}

/// Read access to a links tuple.
pub struct Links<'a> {
    bytes: &'a [u8],
    layout: &'a NodeLayout,
}

impl<'a> Links<'a> {
    pub fn parse(bytes: &'a [u8], layout: &'a NodeLayout) -> Option<Self> {
        if bytes.len() < LINKS_HEADER || bytes[0] != KIND_LINKS {
            return None;
        }
        let links = Links { bytes, layout };
        if bytes.len() < layout.links_size(links.level()) {
            return None;
        }
        Some(links)
    }

    pub fn is_free(&self) -> bool {
        self.bytes[1] & FLAG_FREE != 0
    }

    pub fn level(&self) -> usize {
        usize::from(self.bytes[3])
    }

    /// The links at `level` (empty if the tuple does not hold that level).
    pub fn at(&self, level: usize) -> impl Iterator<Item = Ref> + '_ {
        let held = level >= self.layout.links_from() && level <= self.level();
        let (base, n) = if held {
            let base = self.layout.links_level_offset(level);
            let n = usize::from(u16::from_le_bytes([self.bytes[base], self.bytes[base + 1]]));
            (base + 2, n.min(self.layout.capacity(level)))
        } else {
            (0, 0)
        };
        (0..n).map(move |i| Ref::read(&self.bytes[base + i * REF_SIZE..base + (i + 1) * REF_SIZE]))
    }
}

/// Write access to a links tuple.
pub struct LinksMut<'a> {
    bytes: &'a mut [u8],
    layout: &'a NodeLayout,
}

impl<'a> LinksMut<'a> {
    /// Formats `bytes` as an empty links tuple for a node at `level`.
    pub fn init(bytes: &'a mut [u8], layout: &'a NodeLayout, level: usize) -> Self {
        bytes[..layout.links_size(level)].fill(0);
        bytes[0] = KIND_LINKS;
        bytes[3] = level as u8;
        LinksMut { bytes, layout }
    }

    pub fn open(bytes: &'a mut [u8], layout: &'a NodeLayout) -> Option<Self> {
        Links::parse(bytes, layout)?;
        Some(LinksMut { bytes, layout })
    }

    pub fn set_free(&mut self) {
        self.bytes[1] |= FLAG_FREE;
    }

    /// Replaces the list at `level` (at most its capacity).
    pub fn set(&mut self, level: usize, links: &[Ref]) {
        assert!(links.len() <= self.layout.capacity(level));
        let base = self.layout.links_level_offset(level);
        self.bytes[base..base + 2].copy_from_slice(&(links.len() as u16).to_le_bytes());
        for (i, r) in links.iter().enumerate() {
            let at = base + 2 + i * REF_SIZE;
            r.write(&mut self.bytes[at..at + REF_SIZE]);
        }
    }
}

/// An overflow tuple of heap TIDs:
/// `kind u8 = 3 | flags u8 | count u16 | next (6 bytes) | - (6) | TIDs`.
pub struct TidList<'a> {
    bytes: &'a [u8],
}

impl<'a> TidList<'a> {
    pub const SIZE: usize = TIDS_HEADER + OVERFLOW_TIDS * REF_SIZE;

    pub fn parse(bytes: &'a [u8]) -> Option<Self> {
        let list = TidList { bytes };
        (bytes.len() >= Self::SIZE && bytes[0] == KIND_TIDS && list.count() <= OVERFLOW_TIDS).then_some(list)
    }

    pub fn is_free(&self) -> bool {
        self.bytes[1] & FLAG_FREE != 0
    }

    pub fn count(&self) -> usize {
        usize::from(u16::from_le_bytes([self.bytes[2], self.bytes[3]]))
    }

    pub fn next(&self) -> Ref {
        Ref::read(&self.bytes[4..10])
    }

    pub fn tids(&self) -> impl Iterator<Item = Ref> + '_ {
        (0..self.count()).map(|i| Ref::read(&self.bytes[TIDS_HEADER + i * REF_SIZE..]))
    }
}

/// Write access to an overflow tuple.
pub struct TidListMut<'a> {
    bytes: &'a mut [u8],
}

impl<'a> TidListMut<'a> {
    /// Formats `bytes` as an empty overflow tuple pointing at `next`.
    pub fn init(bytes: &'a mut [u8], next: Ref) -> Self {
        bytes[..TidList::SIZE].fill(0);
        bytes[0] = KIND_TIDS;
        next.write(&mut bytes[4..10]);
        TidListMut { bytes }
    }

    pub fn open(bytes: &'a mut [u8]) -> Option<Self> {
        TidList::parse(bytes)?;
        Some(TidListMut { bytes })
    }

    pub fn view(&self) -> TidList<'_> {
        TidList { bytes: self.bytes }
    }

    /// Replaces the TIDs (at most [`OVERFLOW_TIDS`]).
    pub fn set(&mut self, tids: &[Ref]) {
        assert!(tids.len() <= OVERFLOW_TIDS);
        self.bytes[2..4].copy_from_slice(&(tids.len() as u16).to_le_bytes());
        for (i, t) in tids.iter().enumerate() {
            t.write(&mut self.bytes[TIDS_HEADER + i * REF_SIZE..]);
        }
    }

    /// Appends one TID; `false` when full.
    pub fn push(&mut self, tid: Ref) -> bool {
        let n = self.view().count();
        if n >= OVERFLOW_TIDS {
            return false;
        }
        tid.write(&mut self.bytes[TIDS_HEADER + n * REF_SIZE..]);
        self.bytes[2..4].copy_from_slice(&(n as u16 + 1).to_le_bytes());
        true
    }

    pub fn set_free(&mut self) {
        self.bytes[1] |= FLAG_FREE;
        self.bytes[2..4].copy_from_slice(&0u16.to_le_bytes());
        Ref::INVALID.write(&mut self.bytes[4..10]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_tuple_size_table() {
        // The table in the module documentation.
        let rows = [
            (128, 788, 10, 10, true),
            (384, 1812, 10, 4, true),
            (768, 3348, 10, 2, true),
            (1536, 6420, 10, 1, true),
            (2000, 8084, 10, 1, false),
        ];
        for (dims, size, tids, per_page, inline) in rows {
            let l = NodeLayout::choose(dims * 4, 16).unwrap();
            let got = (l.node_size(), l.max_tids, l.nodes_per_page(), l.links0_inline);
            assert_eq!(got, (size, tids, per_page, inline), "{dims} dims: {l:?}");
        }
        assert!(NodeLayout::choose(8200, 16).is_none());
    }

    #[test]
    fn tid_slots_cost_at_most_a_tenth_of_a_page() {
        for payload in (4..8000).step_by(92) {
            let l = NodeLayout::choose(payload, 16).unwrap();
            let one = NodeLayout { max_tids: 1, ..l };
            assert!(l.nodes_per_page() * 10 >= one.nodes_per_page() * 9, "payload {payload}");
            assert!(l.max_tids >= 1 && l.max_tids <= MAX_TIDS);
        }
        assert_eq!(NodeLayout::choose(8, 4).unwrap().max_tids, 2);
    }

    #[test]
    fn node_round_trip() {
        let layout = NodeLayout::choose(12, 4).unwrap();
        let mut bytes = vec![0u8; layout.node_size()];
        let mut node = NodeMut::init(&mut bytes, &layout, 2, 7, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        node.set_tids(&[Ref { block: 9, offset: 3 }]);
        node.set_links0(&[Ref { block: 1, offset: 1 }, Ref { block: 2, offset: 5 }]);
        node.set_links_tuple(Ref { block: 4, offset: 2 });
        let n = Node::parse(&bytes, &layout).unwrap();
        assert_eq!((n.level(), n.version(), n.ntids()), (2, 7, 1));
        assert_eq!(n.tid(0), Ref { block: 9, offset: 3 });
        assert_eq!(n.links0().collect::<Vec<_>>(), vec![Ref { block: 1, offset: 1 }, Ref { block: 2, offset: 5 }]);
        assert_eq!(n.links_tuple(), Ref { block: 4, offset: 2 });
        assert_eq!(n.payload(), &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        assert!(!n.is_free() && !n.is_deleted());
        assert_eq!(n.payload().as_ptr() as usize % 4, bytes.as_ptr() as usize % 4);
    }

    #[test]
    fn links_round_trip() {
        for inline in [true, false] {
            let layout = NodeLayout { m: 3, payload_len: 8, max_tids: 1, links0_inline: inline, variable: false };
            let mut bytes = vec![0u8; layout.links_size(2)];
            let mut links = LinksMut::init(&mut bytes, &layout, 2);
            links.set(1, &[Ref { block: 1, offset: 1 }]);
            links.set(2, &[Ref { block: 2, offset: 2 }, Ref { block: 3, offset: 3 }]);
            if !inline {
                links.set(0, &[Ref { block: 7, offset: 7 }]);
            }
            let l = Links::parse(&bytes, &layout).unwrap();
            assert_eq!(l.at(1).collect::<Vec<_>>(), vec![Ref { block: 1, offset: 1 }]);
            assert_eq!(l.at(2).count(), 2);
            assert_eq!(l.at(3).count(), 0);
            assert_eq!(l.at(0).count(), if inline { 0 } else { 1 });
        }
    }

    #[test]
    fn malformed_bytes_are_rejected() {
        let layout = NodeLayout::choose(8, 4).unwrap();
        assert!(Node::parse(&[0u8; 4], &layout).is_none());
        let mut bytes = vec![0u8; layout.node_size()];
        assert!(Node::parse(&bytes, &layout).is_none());
        bytes[0] = KIND_NODE;
        bytes[4] = 200;
        assert!(Node::parse(&bytes, &layout).is_none());
        assert!(Links::parse(&[KIND_LINKS, 0, 0, 9, 0, 0, 0, 0], &layout).is_none());
    }

    #[test]
    fn overflow_round_trip() {
        let mut bytes = vec![0u8; TidList::SIZE];
        let mut list = TidListMut::init(&mut bytes, Ref { block: 5, offset: 6 });
        for i in 0..OVERFLOW_TIDS {
            assert!(list.push(Ref { block: i as u32, offset: 1 }));
        }
        assert!(!list.push(Ref { block: 999, offset: 1 }));
        let l = TidList::parse(&bytes).unwrap();
        assert_eq!(l.count(), OVERFLOW_TIDS);
        assert_eq!(l.next(), Ref { block: 5, offset: 6 });
        assert_eq!(l.tids().nth(7), Some(Ref { block: 7, offset: 1 }));
        let mut list = TidListMut::open(&mut bytes).unwrap();
        list.set_free();
        assert!(TidList::parse(&bytes).unwrap().is_free());
    }

    #[test]
    fn refs_pack() {
        let r = Ref { block: 123_456, offset: 77 };
        assert_eq!(Ref::unpack(r.pack()), r);
        assert!(!Ref::INVALID.is_valid());
    }

    #[test]
    fn variable_nodes_are_sized_by_their_payload() {
        let layout = NodeLayout::choose_variable(4 + 8 * 1000, 16).unwrap();
        assert!(layout.variable && !layout.links0_inline);
        assert_eq!(layout.max_tids, 10);
        // 100 non-zeros: 888 bytes, nine to a page.
        assert_eq!(layout.node_size_for(4 + 800), 888);
        assert_eq!(PAGE_TUPLE_SPACE / (maxalign(layout.node_size_for(804)) + LINE_POINTER), 9);
        // The longest fits a page.
        assert!(maxalign(layout.node_size()) + LINE_POINTER <= PAGE_TUPLE_SPACE);
        for len in [4, 12, 804] {
            let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let mut bytes = vec![0u8; layout.node_size_for(len)];
            NodeMut::init(&mut bytes, &layout, 2, 7, &payload);
            let node = Node::parse(&bytes, &layout).unwrap();
            assert_eq!(node.payload(), payload.as_slice());
            assert_eq!((node.level(), node.version()), (2, 7));
            // A tuple cut short of its payload is not a node.
            assert!(Node::parse(&bytes[..bytes.len() - 1], &layout).is_none());
        }
    }
}
