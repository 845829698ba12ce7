//! Property-based fuzzing on the stable toolchain (proptest): each target
//! is a strategy of inputs and a property every input must keep (never a
//! panic, only the deliberate error types, round trips where they apply).
//!
//! - By default (`cargo test`, CI) a target is a **smoke**: a few dozen
//!   cases from a fixed seed, the same on every run, so CI cannot turn red
//!   by chance. `PROPTEST_CASES=N` changes the number of cases.
//! - `OFFICEHOURS_FUZZ_SECS=600` makes a **session**: rounds of fresh
//!   random cases until that many seconds have passed (per database, for
//!   the targets that run on a server). The seed of each round is printed;
//!   `OFFICEHOURS_FUZZ_SEED=<hex>` replays one.
//! - A failing case is shrunk to a small one, and its seed is appended to
//!   the target's file in `tests/fuzz-corpus/`; every later run replays the
//!   seeds kept there first (proptest's failure persistence). A finding
//!   also gets a unit test of its own next to the code it fixes.
//!
//! docs/fuzzing.md lists the targets and the sessions run.

use std::fmt::Debug;
use std::time::{Duration, Instant};

use proptest::strategy::Strategy;
use proptest::test_runner::{
    Config, FileFailurePersistence, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner,
};

/// How long a session runs each target, when one was asked for.
pub fn session_secs() -> Option<u64> {
    std::env::var("OFFICEHOURS_FUZZ_SECS").ok().and_then(|s| s.trim().parse().ok()).filter(|s| *s > 0)
}

/// Cases of a smoke (`PROPTEST_CASES` overrides the target's default).
fn smoke_cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(default)
}

/// The fixed seed of smokes: a smoke sees the same inputs on every run.
const SMOKE_SEED: [u8; 32] = *b"officehours fuzz smoke seed 0001";

fn seed_from_env() -> Option<[u8; 32]> {
    let hex = std::env::var("OFFICEHOURS_FUZZ_SEED").ok()?;
    let bytes: Vec<u8> =
        (0..hex.len() / 2).filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()).collect();
    bytes.try_into().ok()
}

fn random_seed() -> [u8; 32] {
    let mut seed = [0u8; 32];
    rand::Rng::fill(&mut rand::rng(), &mut seed);
    seed
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs the property `test` over inputs from `strategy`: a smoke of
/// `smoke` cases, or a session (see the module documentation). `name` is
/// the target's, and its corpus file is `tests/fuzz-corpus/<name>.txt`.
/// Panics with the smallest failing input found.
pub fn run<S>(name: &'static str, smoke: u32, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S: Strategy,
    S::Value: Debug,
{
    let corpus: &'static str = Box::leak(format!("tests/fuzz-corpus/{name}.txt").into_boxed_str());
    let session = session_secs().map(Duration::from_secs);
    let started = Instant::now();
    let (mut rounds, mut cases) = (0u32, 0u64);
    let slowest = std::cell::Cell::new(Duration::ZERO);
    loop {
        let seed = match (session, seed_from_env()) {
            (_, Some(seed)) => seed,
            (None, None) => SMOKE_SEED,
            (Some(_), None) => random_seed(),
        };
        let round_cases = if session.is_some() { 256 } else { smoke_cases(smoke) };
        let config = Config {
            cases: round_cases,
            failure_persistence: Some(Box::new(FileFailurePersistence::Direct(corpus))),
            // Inputs are cheap to make; most are refused, which is the point.
            max_global_rejects: 100_000,
            max_shrink_iters: 2_000,
            ..Config::default()
        };
        let mut runner = TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed));
        let result = runner.run(&strategy, |value| {
            let case = Instant::now();
            let outcome = test(value);
            slowest.set(slowest.get().max(case.elapsed()));
            outcome
        });
        rounds += 1;
        cases += u64::from(round_cases);
        match result {
            Ok(()) => {}
            Err(TestError::Fail(reason, value)) => {
                panic!("fuzz {name}: a failing input (seed {}): {reason}\nminimal input: {value:#?}", hex(&seed))
            }
            Err(TestError::Abort(reason)) => panic!("fuzz {name}: aborted (seed {}): {reason}", hex(&seed)),
        }
        if session.is_some() {
            eprintln!("fuzz {name}: round {rounds} passed (seed {})", hex(&seed));
        }
        match session {
            Some(limit) if started.elapsed() < limit && seed_from_env().is_none() => continue,
            _ => break,
        }
    }
    eprintln!(
        "fuzz {name}: {cases} cases in {rounds} rounds, {:.1} s, slowest case {} ms, no failure",
        started.elapsed().as_secs_f64(),
        slowest.get().as_millis()
    );
}
