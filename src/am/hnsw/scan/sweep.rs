//! The completion sweep: what a walk cannot reach, the pages still hold.

use super::*;

/// Scores every live node on the index's pages that the walk has not
/// visited (marking it visited), page by page, until the scan's budget of
/// visited nodes or memory is spent. The caller holds `SCAN_LOCK`, so no
/// node read here is freed before its TIDs are queued.
pub(super) fn sweep(state: &mut ScanState, graph: &mut DiskGraph) -> Vec<Scored<u64>> {
    state.swept = true;
    let budget = options::max_scan_tuples();
    let limit = options::scan_memory_limit();
    let layout = graph.layout;
    let mut found = Vec::new();
    let mut ids = Vec::new();
    let mut distances = Vec::new();
    for (block, buf) in data_pages(state.index) {
        if state.visited.len() >= budget || held_bytes(state) + graph.memory > limit {
            state.walk_over = true;
            break;
        }
        ids.clear();
        let page = buf.page();
        for offset in 1..=max_offset(page) {
            let Some(bytes) = item(page, offset) else { continue };
            if bytes.first() != Some(&KIND_NODE) {
                continue;
            }
            let Some(node) = Node::parse(bytes, &layout) else { corrupt_at(state.index, block, "malformed node") };
            if node.flags() != 0 {
                continue; // free, or deleted and waiting for VACUUM
            }
            let id = Ref { block, offset }.pack();
            if state.visited.insert(id) {
                ids.push(id);
            }
        }
        drop(buf);
        distances.clear();
        graph.distances(&ids, &mut distances);
        found.extend(ids.iter().zip(&distances).filter_map(|(&id, d)| d.map(|distance| Scored { id, distance })));
    }
    found
}
