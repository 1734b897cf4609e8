//! Small value domains under high concurrency: the histories of issue 29 (40 concurrent
//! writes of 1 and 2, then a read of 3; 10,000 operations by 20 clients over values 1–5) are
//! decided, each by the method named for it.

use faultline_checker::synth::{concurrent_writes, register, Spec};
use faultline_checker::{check, CheckOptions, Decider, History, ModelSpec, Uniqueness, Verdict};

fn forty_writes_then(reads: &[i64]) -> History {
    concurrent_writes(40, reads)
}

fn decide(h: &History, opts: &CheckOptions) -> (Verdict, Decider) {
    let r = check(h, &ModelSpec::Register { initial: None }, opts).unwrap();
    (r.verdict, r.keys[0].checker)
}

#[test]
fn forty_concurrent_writes_then_a_read_of_a_value_nobody_wrote_is_illegal() {
    let h = forty_writes_then(&[3]);
    let r = check(&h, &ModelSpec::Register { initial: None }, &CheckOptions::default()).unwrap();
    assert_eq!((r.verdict, r.keys[0].checker), (Verdict::Illegal, Decider::InvisibleValue));
    let cx = r.keys[0].counterexample.as_ref().unwrap();
    assert_eq!(cx.blocking, Some(40));
    assert!(cx.explanation.contains("needs the value 3"), "{}", cx.explanation);
}

#[test]
fn forty_concurrent_writes_are_one_multiset_for_the_search() {
    // No certificate applies (1 and 2 are both written inside every window), so the search
    // decides: 1 then 2 then 1 after every write completed is impossible; 1, 1 is fine. Plain
    // WGL would face 2^40 sets of linearized writes; the reduced search counts them per value.
    let opts = CheckOptions { memory_limit: Some(64 << 20), ..CheckOptions::default() };
    assert_eq!(
        decide(&forty_writes_then(&[1, 2, 1]), &opts),
        (Verdict::Illegal, Decider::WglSymmetric)
    );
    assert_eq!(
        decide(&forty_writes_then(&[2, 2]), &opts),
        (Verdict::Linearizable, Decider::WglSymmetric)
    );
    let plain = CheckOptions { unique_values: Uniqueness::Off, ..opts };
    assert_eq!(decide(&forty_writes_then(&[1, 2, 1]), &plain).0, Verdict::Unknown);
}

#[test]
fn ten_thousand_ops_by_twenty_clients_over_five_values_are_decided() {
    for info_permille in [0, 10] {
        let spec =
            Spec { ops: 10_000, clients: 20, values: 5, info_permille, seed: 3, stale: false };
        let opts = CheckOptions { memory_limit: Some(1 << 30), ..CheckOptions::default() };
        let h = register(&spec);
        assert_eq!(decide(&h, &opts), (Verdict::Linearizable, Decider::WglSymmetric), "{spec:?}");
        let stale = register(&Spec { stale: true, ..spec });
        assert_eq!(decide(&stale, &opts), (Verdict::Illegal, Decider::InvisibleValue), "{spec:?}");
    }
}

#[test]
fn generated_histories_are_linearizable_unless_made_stale() {
    // The generator itself, on histories small enough for plain WGL.
    for seed in 0..40 {
        let spec = Spec { ops: 60, clients: 4, values: 3, info_permille: 100, seed, stale: false };
        let plain = CheckOptions { unique_values: Uniqueness::Off, ..CheckOptions::default() };
        assert_eq!(decide(&register(&spec), &plain).0, Verdict::Linearizable, "{spec:?}");
        let stale = Spec { stale: true, ..spec };
        assert_eq!(decide(&register(&stale), &plain).0, Verdict::Illegal, "{stale:?}");
    }
}
