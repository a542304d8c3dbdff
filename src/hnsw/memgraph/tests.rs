//! Tests of the in-memory build graph.
use super::*;
use crate::hnsw::space::{Element, Metric};
use rand::{Rng, SeedableRng};

/// `n` points around `clusters` random centres in `dims` dimensions.
pub fn clustered(n: usize, dims: usize, clusters: usize, seed: u64) -> Vec<Vec<f32>> {
    // The same centres for every seed, so that queries drawn with another
    // seed come from the distribution of the data.
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x0ce4_72e5);
    let centres: Vec<Vec<f32>> = (0..clusters).map(|_| (0..dims).map(|_| rng.gen_range(-1.0..1.0)).collect()).collect();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..n).map(|i| centres[i % clusters].iter().map(|c| c + rng.gen_range(-0.3..0.3)).collect()).collect()
}

fn graph_of(space: Space, points: &[Vec<f32>], params: GraphParams) -> MemGraph {
    let mut words = Vec::new();
    for p in points {
        let payload = space.payload_from_f32(p).unwrap();
        words.extend(payload.as_bytes().chunks(4).map(|c| u32::from_ne_bytes([c[0], c[1], c[2], c[3]])));
    }
    let tids: Vec<u64> = (0..points.len() as u64).collect();
    MemGraph::new(space, params, words, &tids)
}

fn recall(space: Space, points: &[Vec<f32>], graph: &MemGraph, queries: &[Vec<f32>], k: usize, ef: usize) -> f64 {
    let mut hits = 0;
    for q in queries {
        let qp = space.payload_from_f32(q).unwrap();
        let mut exact: Vec<(f32, usize)> = points
            .iter()
            .enumerate()
            .map(|(i, p)| (space.distance(qp.as_bytes(), space.payload_from_f32(p).unwrap().as_bytes()), i))
            .collect();
        exact.sort_by(|a, b| a.0.total_cmp(&b.0));
        let truth: Vec<u64> = exact[..k].iter().map(|&(_, i)| i as u64).collect();
        let found = search(graph, qp.as_bytes(), k, ef);
        let found_tids: Vec<u64> = found.iter().flat_map(|s| graph.node(s.id).tids.clone()).collect();
        hits += truth.iter().filter(|t| found_tids.contains(t)).count();
    }
    hits as f64 / (queries.len() * k) as f64
}

const PARAMS: GraphParams = GraphParams { m: 12, ef_construction: 64, seed: 7 };

#[test]
fn parallel_build_finds_nearest_neighbours() {
    // Inner product is not a metric: like every HNSW, the graph serves it
    // well on vectors of similar norms, so it gets unit vectors here.
    for metric in [Metric::L2, Metric::Cosine, Metric::InnerProduct, Metric::L1] {
        let (mut points, mut queries) = (clustered(3000, 24, 20, 1), clustered(50, 24, 20, 2));
        if metric == Metric::InnerProduct {
            (points, queries) = (unit(points), unit(queries));
        }
        let space = Space::new(Element::F32, metric, 24);
        let graph = graph_of(space, &points, PARAMS);
        let pool = rayon::ThreadPoolBuilder::new().num_threads(4).build().unwrap();
        let progress = AtomicUsize::new(0);
        pool.install(|| graph.build_parallel(&progress, &AtomicBool::new(false))).unwrap();
        assert_eq!(progress.load(Ordering::Relaxed), points.len());
        let r = recall(space, &points, &graph, &queries, 10, 200);
        assert!(r >= 0.95, "{metric:?}: recall {r}");
    }
}

fn unit(v: Vec<Vec<f32>>) -> Vec<Vec<f32>> {
    v.into_iter()
        .map(|p| {
            let n = p.iter().map(|x| x * x).sum::<f32>().sqrt();
            p.iter().map(|x| x / n).collect()
        })
        .collect()
}

#[test]
fn graphs_measured_in_halves_find_nearest_neighbours() {
    for metric in [Metric::L2, Metric::Cosine, Metric::InnerProduct, Metric::L1] {
        let (mut points, mut queries) = (clustered(3000, 64, 20, 1), clustered(50, 64, 20, 2));
        if metric == Metric::InnerProduct {
            (points, queries) = (unit(points), unit(queries));
        }
        let space = Space::new(Element::F32, metric, 64);
        let mut graph = graph_of(space, &points, PARAMS);
        assert!(graph.measure_in_halves(), "{metric:?}");
        graph.build_parallel(&AtomicUsize::new(0), &AtomicBool::new(false)).unwrap();
        // Searches measure the exact vectors; the links came from halves.
        let r = recall(space, &points, &graph, &queries, 10, 100);
        assert!(r >= 0.95, "{metric:?}: recall {r}");
        assert_eq!(unreachable(&graph), 0, "{metric:?}");
    }
}

#[test]
fn halves_are_scaled_to_the_vectors_magnitude() {
    // Unscaled, 1e15 overflows a half (largest 65,504) and 1e-15 is
    // below its smallest subnormal: every distance would be inf or 0.
    for magnitude in [1e15f32, 1e-15, 1.0] {
        let scaled = |v: Vec<Vec<f32>>| -> Vec<Vec<f32>> {
            v.into_iter().map(|p| p.iter().map(|x| x * magnitude).collect()).collect()
        };
        let (points, queries) = (scaled(clustered(2000, 64, 10, 1)), scaled(clustered(50, 64, 10, 2)));
        let space = Space::new(Element::F32, Metric::L2, 64);
        let mut graph = graph_of(space, &points, PARAMS);
        assert!(graph.measure_in_halves());
        // Measured distances are the exact ones times one power of two
        // (in f64: that power can be beyond f32's range).
        let exact = |a, b| f64::from(space.distance(graph.payload(a), graph.payload(b)));
        let ratio = f64::from(graph.distance(0, 1)) / exact(0, 1);
        assert!(ratio.is_finite() && ratio > 0.0, "{magnitude}: {ratio}");
        let power = ratio.log2().round();
        assert!((ratio.log2() - power).abs() < 0.01, "{magnitude}: {ratio}");
        for (a, b) in [(2, 3), (5, 900), (17, 1999)] {
            let (exact, measured) = (exact(a, b), f64::from(graph.distance(a, b)) / 2f64.powf(power));
            assert!((measured - exact).abs() <= exact * 0.01, "{magnitude}: {measured} vs {exact}");
        }
        graph.build_parallel(&AtomicUsize::new(0), &AtomicBool::new(false)).unwrap();
        let r = recall(space, &points, &graph, &queries, 10, 100);
        assert!(r >= 0.95, "magnitude {magnitude}: recall {r}");
    }
}

#[test]
fn only_wide_float_vectors_are_measured_in_halves() {
    let points = clustered(10, 64, 2, 1);
    let narrow: Vec<Vec<f32>> = points.iter().map(|p| p[..HALVES_MIN_DIMS - 1].to_vec()).collect();
    let f32_space = |dims| Space::new(Element::F32, Metric::L2, dims);
    assert!(graph_of(f32_space(64), &points, PARAMS).measure_in_halves());
    assert!(!graph_of(f32_space(63), &narrow, PARAMS).measure_in_halves());
    assert_eq!(MemGraph::halves_bytes(&f32_space(64), 10), Some(10 * 128));
    assert_eq!(MemGraph::halves_bytes(&f32_space(63), 10), None);
    assert_eq!(MemGraph::halves_bytes(&Space::new(Element::F16, Metric::L2, 64), 10), None);
    assert!(!graph_of(f32_space(64), &[], PARAMS).measure_in_halves());
}

#[test]
fn identical_vectors_share_a_node_when_measured_in_halves() {
    // Vectors that differ below a half's precision are distinct rows.
    let mut points = clustered(300, 64, 4, 4);
    let copy = points[7].clone();
    let mut near = copy.clone();
    near[3] += near[3].abs() * 1e-6 + f32::MIN_POSITIVE;
    for _ in 0..20 {
        points.push(copy.clone());
    }
    points.push(near);
    let space = Space::new(Element::F32, Metric::L2, 64);
    let mut graph = graph_of(space, &points, PARAMS);
    assert!(graph.measure_in_halves());
    graph.build_parallel(&AtomicUsize::new(0), &AtomicBool::new(false)).unwrap();
    let q = space.payload_from_f32(&copy).unwrap();
    let found = search(&graph, q.as_bytes(), 10, 40);
    let tids: Vec<u64> =
        found.iter().take_while(|s| s.distance == 0.0).flat_map(|s| graph.node(s.id).tids.clone()).collect();
    assert_eq!(tids.len(), 21, "the original and its 20 copies: {tids:?}");
    assert!(!tids.contains(&(points.len() as u64 - 1)), "the near copy is not merged");
    let near = &points[points.len() - 1];
    let found = search(&graph, space.payload_from_f32(near).unwrap().as_bytes(), 1, 40);
    assert_eq!(graph.node(found[0].id).tids, vec![points.len() as u64 - 1]);
}

#[test]
fn every_node_is_reachable_and_links_respect_capacity() {
    let points = clustered(2000, 16, 10, 3);
    let space = Space::new(Element::F32, Metric::L2, 16);
    let graph = graph_of(space, &points, PARAMS);
    graph.build_parallel(&AtomicUsize::new(0), &AtomicBool::new(false)).unwrap();
    for n in 0..graph.len() as u32 {
        for level in 0..=graph.level(n) {
            let links = graph.links(n, level);
            assert!(links.len() <= PARAMS.capacity(level));
            assert!(links.iter().all(|l| graph.level(l.id) >= level), "link to a node without that level");
        }
    }
    assert_eq!(unreachable(&graph), 0);
}

/// Nodes no walk from the entry point reaches, over links on any level.
fn unreachable(graph: &MemGraph) -> usize {
    let (entry, _) = graph.entry().unwrap();
    let mut seen = vec![false; graph.len()];
    graph.mark_reachable(entry, &mut seen);
    (0..graph.len()).filter(|&i| !seen[i] && !graph.node(i as u32).merged).count()
}

#[test]
fn inner_product_on_unnormalised_vectors_leaves_no_node_out() {
    // Under inner product the long vectors are everyone's nearest, and
    // the short ones nobody's: pruning strands many of them, and the
    // nearest reachable node of each is one of the same few hubs.
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let points: Vec<Vec<f32>> = (0..3000)
        .map(|i| {
            let norm = 1.0 + (i % 7) as f32;
            (0..32).map(|_| rng.gen_range(-1.0f32..1.0) * norm).collect()
        })
        .collect();
    let space = Space::new(Element::F32, Metric::InnerProduct, 32);
    let graph = graph_of(space, &points, PARAMS);
    graph.build_parallel(&AtomicUsize::new(0), &AtomicBool::new(false)).unwrap();
    assert_eq!(unreachable(&graph), 0);
}

#[test]
fn reconnect_links_a_stranded_node() {
    let points = clustered(1000, 16, 10, 6);
    let space = Space::new(Element::F32, Metric::L2, 16);
    let graph = graph_of(space, &points, PARAMS);
    graph.build_parallel(&AtomicUsize::new(0), &AtomicBool::new(false)).unwrap();
    assert_eq!(graph.reconnect(), 0, "a fresh build leaves no node out");
    // Strand a layer-0 node: no list points at it any more.
    let (entry, _) = graph.entry().unwrap();
    let stranded = (0..graph.len() as u32).find(|&n| n != entry && graph.level(n) == 0).unwrap();
    for n in 0..graph.len() as u32 {
        for level in 0..=graph.level(n) {
            graph.edit_links(n, level, |list| list.retain(|l| l.id != stranded));
        }
    }
    let q = graph.payload(stranded).to_vec();
    assert!(search(&graph, &q, 1, 100).first().is_none_or(|s| s.id != stranded));
    assert_eq!(graph.reconnect(), 1);
    assert_eq!(search(&graph, &q, 1, 100).first().map(|s| s.id), Some(stranded));
    assert_eq!(graph.reconnect(), 0);
}

#[test]
fn reconnect_counts_only_layer_0_links() {
    // A node linked to on an upper level but on no layer-0 list is a row no
    // scan returns: the scan walks only layer 0 after its descent.
    let points = clustered(1000, 16, 10, 6);
    let space = Space::new(Element::F32, Metric::L2, 16);
    let graph = graph_of(space, &points, PARAMS);
    graph.build_parallel(&AtomicUsize::new(0), &AtomicBool::new(false)).unwrap();
    let (entry, _) = graph.entry().unwrap();
    let stranded = (0..graph.len() as u32).find(|&n| n != entry && graph.level(n) >= 1).unwrap();
    for n in 0..graph.len() as u32 {
        graph.edit_links(n, 0, |list| list.retain(|l| l.id != stranded));
    }
    assert_eq!(unreachable(&graph), 1);
    assert_eq!(graph.reconnect(), 1);
    assert_eq!(unreachable(&graph), 0);
    assert_eq!(graph.reconnect(), 0);
}

#[test]
fn identical_vectors_share_a_node() {
    let mut points = clustered(200, 8, 4, 4);
    for _ in 0..20 {
        points.push(vec![0.5; 8]);
    }
    let space = Space::new(Element::F32, Metric::L2, 8);
    let graph = graph_of(space, &points, PARAMS);
    graph.build_parallel(&AtomicUsize::new(0), &AtomicBool::new(false)).unwrap();
    let merged = (0..graph.len() as u32).filter(|&i| graph.node(i).merged).count();
    // Copies inserted at the same moment on two threads may not see each
    // other and stay separate nodes; most are merged, and every TID is
    // found at distance 0 either way.
    assert!(merged >= 15, "only {merged} of 19 copies merged");
    let total_tids: usize = (0..graph.len() as u32).map(|i| graph.node(i).tids.len()).sum();
    assert_eq!(total_tids, points.len());
    let q = space.payload_from_f32(&[0.5; 8]).unwrap();
    let found = search(&graph, q.as_bytes(), 10, 40);
    let tids: usize = found.iter().take_while(|s| s.distance == 0.0).map(|s| graph.node(s.id).tids.len()).sum();
    assert_eq!(tids, 20);
}

#[test]
fn cancel_stops_the_build() {
    let points = clustered(500, 8, 4, 5);
    let space = Space::new(Element::F32, Metric::L2, 8);
    let graph = graph_of(space, &points, PARAMS);
    assert_eq!(graph.build_parallel(&AtomicUsize::new(0), &AtomicBool::new(true)), Err(Cancelled));
}

#[test]
fn the_graph_keeps_the_payloads_it_is_given() {
    // A copy would hold every payload twice while the build's are alive
    // (finding 10 of issue 14).
    let space = Space::new(Element::F32, Metric::L2, 4);
    let words: Vec<u32> = (0..40).collect();
    let at = words.as_ptr();
    let tids: Vec<u64> = (0..10).collect();
    let graph = MemGraph::new(space, GraphParams { m: 4, ef_construction: 8, seed: 1 }, words, &tids);
    assert_eq!(graph.payload(0).as_ptr(), at.cast::<u8>());
    assert_eq!(graph.payload(9), words_as_bytes(&[36, 37, 38, 39]));
}

#[test]
fn variable_payloads_are_padded_in_place() {
    // Lengths 2, 0, 3, 1 words: padded to 3 each.
    let ends = [2, 2, 5, 6];
    let mut words = vec![1, 2, 3, 4, 5, 6];
    pad_to_longest(&mut words, &ends);
    assert_eq!(words, vec![1, 2, 0, 0, 0, 0, 3, 4, 5, 6, 0, 0]);
    let mut none = Vec::new();
    pad_to_longest(&mut none, &[]);
    assert!(none.is_empty());
}

#[test]
fn the_overhead_estimate_grows_with_nodes_and_threads() {
    let params = GraphParams { m: 16, ef_construction: 64, seed: 1 };
    let one = MemGraph::overhead_bytes(&params, 1000, 1);
    assert!(MemGraph::overhead_bytes(&params, 2000, 1) >= 2 * one);
    assert!(MemGraph::overhead_bytes(&params, 1000, 4) > one);
    // At least the level-0 lists: 2 m links of id and distance, per node.
    assert!(one >= 1000 * 2 * 16 * 8, "{one}");
}

#[test]
fn many_equal_distance_nodes_in_tiny_lists_stay_reachable() {
    // Under cosine, scaled copies of one vector are distinct rows at
    // distance 0 from each other; with m = 2 their lists hold 4 links, all
    // to other copies, and a forced link into a full list displaces one a
    // copy needed (finding "reach", sparsevec model seed 20261203).
    for seed in 0..40u64 {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let base: Vec<f32> = (0..16).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
        let mut points: Vec<Vec<f32>> =
            (0..220).map(|i| base.iter().map(|x| x * (1.0 + i as f32 * 0.01)).collect()).collect();
        points.extend((0..180).map(|_| (0..16).map(|_| rng.gen_range(-1.0f32..1.0)).collect::<Vec<f32>>()));
        let space = Space::new(Element::F32, Metric::Cosine, 16);
        let params = GraphParams { m: 2, ef_construction: 6, seed };
        let graph = graph_of(space, &points, params);
        graph.build_parallel(&AtomicUsize::new(0), &AtomicBool::new(false)).unwrap();
        assert_eq!(unreachable(&graph), 0, "seed {seed}");
    }
}
