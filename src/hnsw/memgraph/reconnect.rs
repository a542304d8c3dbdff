//! Reconnecting a built graph: every live node must be reachable on layer 0
//! from the entry point, and every node of level 1 or more must lead back to
//! the entry on layer 0, since a scan descends to one such node and then
//! walks layer 0 only. Pruning can break either (a few nodes in 100,000).

use super::*;

/// The parent of the entry point and of nodes not reached.
const NO_PARENT: u32 = u32::MAX;

impl MemGraph {
    /// Links every node that no layer-0 walk from the entry point reaches from its
    /// nearest reachable node; returns how many were linked. Pruning with
    /// the heuristic can take a node's last incoming link away (a few in
    /// 100,000), and a node no search reaches is a row no query returns.
    pub fn reconnect(&self) -> usize {
        self.reconnect_until(&AtomicBool::new(false)).unwrap_or(0)
    }

    /// [`MemGraph::reconnect`], stopping when `cancel` is set (it walks the
    /// whole graph, on one thread, at least once).
    pub(super) fn reconnect_until(&self, cancel: &AtomicBool) -> Result<usize, Cancelled> {
        let Some((entry, _)) = self.entry() else { return Ok(0) };
        let mut linked = 0;
        // A forced link displaces another, which can strand its target in
        // turn: walk again until nothing is left out (in practice twice).
        for _ in 0..8 {
            let mut reached = vec![false; self.len()];
            // The link each reached node was first reached by: these form a
            // tree from the entry point, so giving up any other link keeps
            // every reached node reached.
            let mut parent = vec![NO_PARENT; self.len()];
            self.mark_tree(entry, &mut reached, Some(&mut parent));
            let mut fixed = 0;
            for id in 0..self.len() as u32 {
                if id % 4096 == 0 && cancel.load(Ordering::Relaxed) {
                    return Err(Cancelled);
                }
                if reached[id as usize] || self.node(id).merged {
                    continue;
                }
                if let Some(host) = self.host_for(id, entry, &reached, &parent) {
                    self.force_link(host.id, id, host.distance, &parent);
                    parent[id as usize] = host.id;
                    fixed += 1;
                    // reachable now, and so is what it links to
                    self.mark_tree(id, &mut reached, Some(&mut parent));
                }
            }
            // A scan's descent ends on a node of level 1 or more and walks
            // layer 0 from there, so each of those must lead back to the
            // entry point on layer 0 (and from it to every node): one that
            // does not gets a forced link to its nearest node that does.
            let back = self.reaching(entry, cancel)?;
            for id in 0..self.len() as u32 {
                if id % 4096 == 0 && cancel.load(Ordering::Relaxed) {
                    return Err(Cancelled);
                }
                if back[id as usize] || self.level(id) == 0 || self.node(id).merged {
                    continue;
                }
                let query = self.measured().get(id);
                let found = search_reached(self, query, entry, self.params.ef_construction);
                let host = found.iter().find(|s| s.id != id && back[s.id as usize] && !self.node(s.id).merged);
                let host = match host {
                    Some(h) => *h,
                    None => Scored { id: entry, distance: self.measured().distance_to(query, entry) },
                };
                self.force_link(id, host.id, host.distance, &parent);
                fixed += 1;
            }
            linked += fixed;
            if fixed == 0 {
                break;
            }
        }
        Ok(linked)
    }

    /// The nodes from which a layer-0 walk reaches `entry`: sweeps the
    /// lists until one adds nothing (about as many sweeps as layer 0 is
    /// wide in hops).
    fn reaching(&self, entry: u32, cancel: &AtomicBool) -> Result<Vec<bool>, Cancelled> {
        let mut back = vec![false; self.len()];
        back[entry as usize] = true;
        let mut links = Vec::new();
        loop {
            if cancel.load(Ordering::Relaxed) {
                return Err(Cancelled);
            }
            let mut changed = false;
            for id in 0..self.len() as u32 {
                if back[id as usize] {
                    continue;
                }
                links.clear();
                self.lists.read_ids(id, 0, &mut links);
                if links.iter().any(|&l| back[l as usize]) {
                    back[id as usize] = true;
                    changed = true;
                }
            }
            if !changed {
                return Ok(back);
            }
        }
    }

    /// Marks every node reachable from `from` on layer 0: a scan walks only
    /// layer 0 once its descent is over, so an upper-level link alone does
    /// not make a node's rows findable.
    #[cfg(test)]
    pub(super) fn mark_reachable(&self, from: u32, reached: &mut [bool]) {
        self.mark_tree(from, reached, None);
    }

    /// Marks every node reachable from `from` on layer 0, recording in `parent` the node each
    /// newly marked node was reached from.
    fn mark_tree(&self, from: u32, reached: &mut [bool], mut parent: Option<&mut [u32]>) {
        if reached[from as usize] {
            return;
        }
        reached[from as usize] = true;
        let mut stack = vec![from];
        let mut links = Vec::new();
        while let Some(id) = stack.pop() {
            links.clear();
            self.lists.read_ids(id, 0, &mut links);
            for &l in &links {
                if !reached[l as usize] {
                    reached[l as usize] = true;
                    if let Some(parent) = parent.as_deref_mut() {
                        parent[l as usize] = id;
                    }
                    stack.push(l);
                }
            }
        }
    }

    /// The nearest reachable node that can take a link to `id` without
    /// stranding another: under inner product the nearest is the same hub
    /// for many nodes, and among many nodes at one distance (duplicates,
    /// scaled copies under cosine) with small lists every near list is full
    /// of links each copy needs. The search widens until it finds one or
    /// has seen every node it reaches; failing that, the nearest.
    fn host_for(&self, id: u32, entry: u32, reached: &[bool], parent: &[u32]) -> Option<Scored<u32>> {
        let query = self.measured().get(id);
        let mut ef = self.params.ef_construction.max(1);
        let mut nearest = None;
        loop {
            let found = search_reached(self, query, entry, ef);
            let mut hosts = found.iter().filter(|s| s.id != id && reached[s.id as usize] && !self.node(s.id).merged);
            nearest = nearest.or(hosts.clone().next().copied());
            if let Some(host) = hosts.find(|s| self.has_room(s.id, parent)) {
                return Some(*host);
            }
            if found.len() < ef || ef >= self.len() {
                return nearest;
            }
            ef = ef.saturating_mul(4);
        }
    }

    /// Whether `node`'s layer-0 list can take a forced link without giving
    /// up the link some node was reached by.
    fn has_room(&self, node: u32, parent: &[u32]) -> bool {
        let links = self.links(node, 0);
        links.len() < self.params.capacity(0) || links.iter().any(|l| parent[l.id as usize] != node)
    }

    /// Puts `new` in `node`'s layer-0 list whatever the heuristic says. A
    /// full list gives up a link no node was reached by, one the heuristic
    /// would drop before one it keeps, the farthest among equals; when every
    /// link is some node's way in, the farthest (the next round relinks it).
    fn force_link(&self, node: u32, new: u32, distance: f32, parent: &[u32]) {
        let capacity = self.params.capacity(0);
        self.edit_links(node, 0, |links| {
            if links.iter().any(|l| l.id == new) {
                return;
            }
            if links.len() >= capacity {
                let spare = |l: &Link<u32>| parent[l.id as usize] != node;
                let victim = links
                    .iter()
                    .rposition(|l| spare(l) && !l.diverse)
                    .or_else(|| links.iter().rposition(spare))
                    .or_else(|| links.iter().rposition(|l| !l.diverse))
                    .unwrap_or(links.len() - 1);
                links.remove(victim);
            }
            let pos = links.partition_point(|l| l.distance <= distance);
            links.insert(pos, Link { id: new, distance, diverse: true });
        });
    }
}

/// The `ef` nearest nodes to `query` a layer-0 search from `entry` finds:
/// all reachable from it, unlike what a search after a descent finds (the
/// descent can land in a piece of layer 0 the entry does not reach).
pub(super) fn search_reached(graph: &MemGraph, query: &[u8], entry: u32, ef: usize) -> Vec<Scored<u32>> {
    let points = graph.measured();
    let mut view = MemView { graph, points, query, computed: 1, known: None };
    let mut scratch = Scratch::default();
    let start = Scored { id: entry, distance: view.distance_to(entry) };
    let mut visited = EpochVisited::new(graph.len());
    search_layer(&mut view, &[start], ef, 0, &mut visited, &mut scratch, None)
}
