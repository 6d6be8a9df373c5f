//! The checks of data-parallel training on MPI processes: run it under
//! `mpirun -np 2 target/debug/examples/mpi_checks` (`.ci/run` does). Every rank runs the
//! checks of `tests/distributed_checks` (parity with one process, identical weights and
//! history on every rank, validation and early stopping, a failing rank before and during
//! training, mismatched models); the job exits non-zero if any failed on any rank. Started
//! without `mpirun` it is a world of one rank, where the checks still hold.
//!
//! Needs the `mpi` feature: `cargo build --features mpi --example mpi_checks`.

#[allow(dead_code)] // Some helpers serve only the thread-based tests.
#[path = "../tests/distributed_checks/mod.rs"]
mod distributed_checks;

use stratic::distributed::Mpi;

fn main() -> std::process::ExitCode {
    let mpi = match Mpi::init() {
        Ok(mpi) => mpi,
        Err(e) => {
            eprintln!("mpi_checks: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let failures = distributed_checks::run_all(&mpi);
    for f in &failures {
        eprintln!("rank {}: FAILED {f}", mpi.rank());
    }
    // Every rank learns how many failed anywhere, so all exit alike.
    let mut total = [failures.len() as f64];
    mpi.communicator().all_reduce_sum_f64(&mut total);
    if mpi.is_root() {
        println!("mpi_checks: {} ranks, {} failure(s)", mpi.size(), total[0]);
    }
    if total[0] == 0.0 {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}
