//! Data-parallel training on ranks that are threads of this process (`LocalGroup`): the
//! checks `examples/mpi_checks.rs` runs on MPI processes, and a world of one rank.

mod distributed_checks;

use distributed_checks::{data, weight_hash, Net};
use stratic::distributed::{shard, LocalGroup, World};
use stratic::prelude::*;

fn on_ranks(size: usize) -> Vec<Vec<String>> {
    let group = LocalGroup::new(size);
    let handles: Vec<_> = (0..size)
        .map(|rank| {
            let group = group.clone();
            std::thread::spawn(move || distributed_checks::run_all(&group.world(rank)))
        })
        .collect();
    handles
        .into_iter()
        .map(|h| {
            h.join()
                .unwrap_or_else(|_| vec!["the rank panicked".into()])
        })
        .collect()
}

#[test]
fn two_ranks_train_as_one_process() {
    for (rank, failures) in on_ranks(2).iter().enumerate() {
        assert!(failures.is_empty(), "rank {rank}: {failures:#?}");
    }
}

#[test]
fn three_ranks_train_as_one_process() {
    for (rank, failures) in on_ranks(3).iter().enumerate() {
        assert!(failures.is_empty(), "rank {rank}: {failures:#?}");
    }
}

#[test]
fn a_world_of_one_is_ordinary_training() {
    let (x, y) = data(50, 9);
    let options = FitOptions::default()
        .batch_size(7)
        .epochs(3)
        .seed(5)
        .verbose(0);
    let train = |options: &FitOptions| {
        let mut model =
            Net::with_seed(2).compile(Adam::new(0.01), Loss::sparse_categorical_crossentropy());
        let history = model.fit(x.view(), y.view(), options).unwrap();
        (history, weight_hash(model.model()))
    };
    let world = World::single();
    assert_eq!(shard(x.view(), &world), x);
    assert_eq!(train(&options), train(&options.clone().distributed(&world)));
}

#[test]
fn shards_are_strided_and_cover_every_sample() {
    let group = LocalGroup::new(3);
    let x = Array2::from_shape_fn((8, 2), |(i, j)| (i * 10 + j) as f32);
    let parts: Vec<Array2<f32>> = (0..3).map(|r| shard(x.view(), &group.world(r))).collect();
    assert_eq!(parts[0].column(0).to_vec(), [0.0, 30.0, 60.0]);
    assert_eq!(parts[1].column(0).to_vec(), [10.0, 40.0, 70.0]);
    assert_eq!(parts[2].column(0).to_vec(), [20.0, 50.0]);
    // More ranks than samples: the last ranks get none.
    let few = Array2::<f32>::zeros((1, 2));
    assert_eq!(shard(few.view(), &group.world(2)).nrows(), 0);
}
