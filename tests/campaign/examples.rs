//! The shipped campaign and CI examples: `examples/nightly.toml` resolves (one `catch` cell
//! per planted bug a run can exercise), and the commands of the GitHub Actions workflow
//! and the Kubernetes Indexed Job parse with the real command line, with shard counts that
//! agree with their matrix and completions.

use std::path::PathBuf;

use clap::Parser;
use faultline::campaign::file;
use faultline::cli::{Cli, Command};
use faultline::cmd::campaign::Action;
use faultline_api::UnsafeBug;
use faultline_store::campaign::{Expect, Shard};
use serde_yaml::Value;

fn example(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples").join(path)
}

fn yaml(path: &str) -> Value {
    serde_yaml::from_str(&std::fs::read_to_string(example(path)).unwrap()).unwrap()
}

/// Parses a shell command line of ours (no quoting in them) with the real clap definition.
fn parse(cmd: &str) -> Cli {
    let words: Vec<&str> = cmd
        .split_whitespace()
        .map(|w| w.rsplit('/').next().filter(|_| w.ends_with("faultline")).unwrap_or(w))
        .collect();
    assert!(words[0] == "faultline", "{cmd}");
    Cli::try_parse_from(&words).unwrap_or_else(|e| panic!("{cmd}: {e}"))
}

fn shard_of(cli: &Cli) -> Option<Shard> {
    match &cli.command {
        Command::Campaign(a) => a.shard,
        _ => panic!("not a campaign command"),
    }
}

#[test]
fn nightly_resolves_with_a_catch_cell_per_planted_bug() {
    let plan = file::read(&example("nightly.toml")).unwrap();
    let bugs = UnsafeBug::ALL;
    for b in bugs {
        let n = plan.cells.iter().filter(|c| c.config.unsafe_bug == Some(*b)).count();
        assert_eq!(n, 1, "{b}");
    }
    let catches = plan.cells.iter().filter(|c| c.expect == Expect::Catch).count();
    assert_eq!(catches, bugs.len() + 1, "plus etcd's serializable reads");
    // 2 systems × 3 workloads × 5 faults × 3 seeds, less etcd's clock and figure8, + extras
    // (membership on both systems, power loss on both, loss on both, 3 sharded seeds).
    assert_eq!(plan.cells.len(), 90 - 18 + 2 + 2 + 2 + 3 + catches);
}

#[test]
fn github_actions_shards_match_the_cli() {
    let w = yaml("ci/github-actions.yml");
    let shards = w["jobs"]["shard"]["strategy"]["matrix"]["shard"].as_sequence().unwrap();
    let n = shards.len();
    let steps = w["jobs"]["shard"]["steps"].as_sequence().unwrap();
    let run = steps
        .iter()
        .filter_map(|s| s["run"].as_str())
        .find(|r| r.contains("faultline campaign"))
        .unwrap();
    let mut seen = Vec::new();
    for s in shards {
        let i = s.as_u64().unwrap();
        let cmd = run.replace("${{ matrix.shard }}", &i.to_string());
        let shard = shard_of(&parse(&cmd)).expect("--shard");
        assert_eq!(shard.count, n, "{cmd}");
        seen.push(shard.index);
    }
    seen.sort_unstable();
    assert_eq!(seen, (1..=n).collect::<Vec<_>>());
    let merge = w["jobs"]["merge"]["steps"].as_sequence().unwrap();
    let merge =
        merge.iter().filter_map(|s| s["run"].as_str()).find(|r| r.contains("merge")).unwrap();
    let cli = parse(&merge.replace('*', "x"));
    let Command::Campaign(a) = cli.command else { panic!("{merge}") };
    assert!(matches!(a.action, Some(Action::Merge { .. })), "{merge}");
}

#[test]
fn kubernetes_indexed_job_shards_match_the_cli() {
    let job = yaml("ci/kubernetes-job.yaml");
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"].as_str(), Some("Indexed"));
    let n = spec["completions"].as_u64().unwrap() as usize;
    assert_eq!(spec["parallelism"].as_u64(), Some(n as u64));
    let container = &spec["template"]["spec"]["containers"][0];
    let args = container["args"][0].as_str().unwrap();
    let mut seen = Vec::new();
    for index in 0..n {
        // What the shell makes of it in pod `index`.
        let cmd = args.replace("$((JOB_COMPLETION_INDEX + 1))", &(index + 1).to_string());
        let shard = shard_of(&parse(&cmd)).expect("--shard");
        assert_eq!(shard.count, n);
        seen.push(shard.index);
    }
    assert_eq!(seen, (1..=n).collect::<Vec<_>>());
    let mount = container["volumeMounts"][0]["mountPath"].as_str().unwrap();
    assert!(spec["template"]["spec"]["volumes"][0]["persistentVolumeClaim"].is_mapping());
    assert_eq!(mount, "/store", "the shards write to the shared volume");
}
