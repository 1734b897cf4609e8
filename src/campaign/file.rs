//! The campaign file (TOML) and its resolution into a [`CampaignPlan`].
//!
//! ```text
//!  name = "smoke"
//!  [defaults]      any `faultline run` setting (RunSettings, checked as a test file is)
//!  [matrix]        setting = [values..]: the cross product (any setting can be an axis)
//!  [[exclude]]     setting = value..: matrix cells matching all of these are dropped
//!  [[override]]    when = {setting = value..}, set = {settings}: applied to matching cells
//!  [[cell]]        settings + expect = "pass" | "catch": an extra cell over the defaults
//!
//!  per cell: cell keys / matrix values ◀ defaults, then matching overrides ──▶ RunSettings
//!     ──into_config──▶ RunConfig (seed: given, or derived from the cell's name) ──▶ PlannedCell
//! ```
//! Every table is read with [`RunSettings`]' own parser, so unknown keys and bad values are
//! errors naming the file, the table and the key. A cell with a planted bug (`unsafe-bug`, or
//! etcd's `etcd-serializable-reads`) expects `catch` unless it says otherwise; `expect =
//! "catch"` without one is an error.

use std::collections::BTreeSet;
use std::hash::Hasher;
use std::path::Path;

use faultline_api::layered::checks::dir_name;
use faultline_api::{ConfigError, Layer, RunSettings};
use faultline_store::campaign::{CampaignPlan, Expect, PlannedCell};
use serde_json::{Map, Value};

/// Top-level keys of a campaign file.
const KEYS: &[&str] = &["name", "description", "defaults", "matrix", "exclude", "override", "cell"];
/// Settings already part of a cell's test name (`RunConfig::test_name`), so not repeated in
/// its id.
const NAMED: &[&str] = &[
    "system",
    "workload",
    "nemesis",
    "nodes",
    "unsafe-bug",
    "read-mode",
    "etcd-serializable-reads",
    "node-cmd",
    "seed",
    "name",
];
/// Most cells one campaign may have.
const MAX_CELLS: usize = 10_000;

/// Reads and resolves a campaign file.
///
/// # Errors
/// The first problem, naming the file, the table and the key.
pub fn read(path: &Path) -> Result<CampaignPlan, ConfigError> {
    let name = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| ConfigError::new(&name, "-", e.to_string()))?;
    if meta.len() > 1 << 20 {
        return Err(ConfigError::new(&name, "-", "larger than 1 MiB"));
    }
    let text =
        std::fs::read_to_string(path).map_err(|e| ConfigError::new(&name, "-", e.to_string()))?;
    let mut plan = parse(&name, &text)?;
    plan.file = Some(path.to_path_buf());
    Ok(plan)
}

fn table(source: &str, key: &str, v: &Value) -> Result<Map<String, Value>, ConfigError> {
    v.as_object().cloned().ok_or_else(|| ConfigError::new(source, key, "expected a table"))
}

fn tables(
    source: &str,
    key: &str,
    v: Option<&Value>,
) -> Result<Vec<Map<String, Value>>, ConfigError> {
    match v {
        None => Ok(Vec::new()),
        Some(Value::Array(a)) => a.iter().map(|t| table(source, key, t)).collect(),
        Some(_) => Err(ConfigError::new(source, key, format!("expected [[{key}]] tables"))),
    }
}

/// A settings layer as JSON (kebab-case keys, only the set fields).
fn as_map(s: &RunSettings) -> Map<String, Value> {
    match serde_json::to_value(s) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

/// Whether `s` has every value `pattern` sets.
fn matches(s: &RunSettings, pattern: &RunSettings) -> bool {
    let have = as_map(s);
    as_map(pattern).iter().all(|(k, v)| have.get(k) == Some(v))
}

/// A value as a short name fragment: `rate=300`, `read-mode=lease`.
fn fragment(key: &str, v: &Value) -> String {
    let v = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let v: String = v
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "._+=".contains(c) { c } else { '_' })
        .collect();
    format!("{key}={}", faultline_api::cut(&v, 40))
}

/// A seed for a cell that names none: stable across runs, machines and shards (FNV-1a of
/// its name), small like [`faultline_api::run::random_seed`]'s.
fn derived_seed(row: &str) -> u64 {
    let mut h = FnvHasher(0xcbf2_9ce4_8422_2325);
    h.write(row.as_bytes());
    h.finish() % 1_000_000
}

struct FnvHasher(u64);

impl Hasher for FnvHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
        }
    }
}

/// One cell before resolution.
struct Draft {
    origin: String,
    source: String,
    settings: RunSettings,
    /// The keys that tell it apart from its siblings (matrix axes or the cell's own keys).
    distinct: Vec<(String, Value)>,
    expect: Option<Expect>,
}

/// Parses a campaign file's text (`source` names it in errors).
///
/// # Errors
/// The first problem, naming `source`, the table and the key.
pub fn parse(source: &str, text: &str) -> Result<CampaignPlan, ConfigError> {
    let whole = |m: String| ConfigError::new(source, "-", m);
    let t: toml::Table =
        toml::from_str(text).map_err(|e| whole(e.to_string().trim().to_string()))?;
    let Value::Object(top) = serde_json::to_value(t).map_err(|e| whole(e.to_string()))? else {
        return Err(whole("expected a table".into()));
    };
    for k in top.keys() {
        if !KEYS.contains(&k.as_str()) {
            return Err(ConfigError::new(
                source,
                &faultline_api::cut(k, 60),
                format!("unknown field (expected one of {})", KEYS.join(", ")),
            ));
        }
    }
    let name = match top.get("name") {
        Some(Value::String(n)) => n.clone(),
        Some(_) => return Err(ConfigError::new(source, "name", "expected a string")),
        None => return Err(ConfigError::new(source, "name", "missing: every campaign has a name")),
    };
    dir_name(&name).map_err(|m| ConfigError::new(source, "name", m))?;
    if top.get("description").is_some_and(|d| !d.is_string()) {
        return Err(ConfigError::new(source, "description", "expected a string"));
    }
    let defaults = match top.get("defaults") {
        Some(v) => {
            RunSettings::from_map(&format!("{source} [defaults]"), table(source, "defaults", v)?)?
        }
        None => RunSettings::default(),
    };
    let mut drafts = matrix(source, top.get("matrix"))?;
    let excludes: Vec<RunSettings> = tables(source, "exclude", top.get("exclude"))?
        .into_iter()
        .enumerate()
        .map(|(i, t)| RunSettings::from_map(&format!("{source} [[exclude]] #{}", i + 1), t))
        .collect::<Result<_, _>>()?;
    drafts.retain(|d| !excludes.iter().any(|x| matches(&d.settings, x)));
    for (i, t) in tables(source, "cell", top.get("cell"))?.into_iter().enumerate() {
        drafts.push(extra_cell(&format!("{source} [[cell]] #{}", i + 1), i + 1, t)?);
    }
    let overrides = overrides(source, top.get("override"))?;
    let mut cells = Vec::new();
    let mut ids = BTreeSet::new();
    for d in drafts {
        let mut s = d.settings.clone().or(defaults.clone());
        for (when, set) in &overrides {
            if matches(&s, when) {
                s = set.clone().or(s);
            }
        }
        let cell = resolve(d, s, cells.len())?;
        if !ids.insert(cell.id.clone()) {
            return Err(ConfigError::new(
                source,
                "cell",
                format!(
                    "cell {} ({}) appears twice; give one a distinct setting",
                    cell.id, cell.origin
                ),
            ));
        }
        cells.push(cell);
    }
    Ok(CampaignPlan { name, file: None, shard: None, cells })
}

/// The cross product of `[matrix]`, in key order (each axis' values in file order).
fn matrix(source: &str, m: Option<&Value>) -> Result<Vec<Draft>, ConfigError> {
    let Some(m) = m else { return Ok(Vec::new()) };
    let m = table(source, "matrix", m)?;
    let src = format!("{source} [matrix]");
    let mut drafts = vec![Draft {
        origin: "matrix".into(),
        source: src.clone(),
        settings: RunSettings::default(),
        distinct: Vec::new(),
        expect: None,
    }];
    for (key, values) in m {
        let key = key.replace('_', "-");
        let values = match values {
            Value::Array(a) if a.is_empty() => {
                return Err(ConfigError::new(&src, &key, "an axis needs at least one value"))
            }
            Value::Array(a) => a,
            one => vec![one],
        };
        let mut next = Vec::new();
        for d in &drafts {
            for v in &values {
                let one: Map<String, Value> = [(key.clone(), v.clone())].into_iter().collect();
                let layer = RunSettings::from_map(&src, one)?;
                let mut distinct = d.distinct.clone();
                distinct.push((key.clone(), v.clone()));
                next.push(Draft {
                    origin: d.origin.clone(),
                    source: src.clone(),
                    settings: layer.or(d.settings.clone()),
                    distinct,
                    expect: None,
                });
                if next.len() > MAX_CELLS {
                    return Err(ConfigError::new(
                        &src,
                        &key,
                        format!("more than {MAX_CELLS} cells"),
                    ));
                }
            }
        }
        drafts = next;
    }
    Ok(drafts)
}

fn extra_cell(src: &str, n: usize, mut t: Map<String, Value>) -> Result<Draft, ConfigError> {
    let expect = match t.remove("expect") {
        None => None,
        Some(Value::String(e)) => {
            Some(e.parse::<Expect>().map_err(|e| ConfigError::new(src, "expect", e.to_string()))?)
        }
        Some(_) => return Err(ConfigError::new(src, "expect", "expected \"pass\" or \"catch\"")),
    };
    let distinct: Vec<(String, Value)> =
        t.iter().map(|(k, v)| (k.replace('_', "-"), v.clone())).collect();
    let settings = RunSettings::from_map(src, t)?;
    Ok(Draft { origin: format!("cell {n}"), source: src.into(), settings, distinct, expect })
}

fn overrides(
    source: &str,
    v: Option<&Value>,
) -> Result<Vec<(RunSettings, RunSettings)>, ConfigError> {
    let mut out = Vec::new();
    for (i, mut t) in tables(source, "override", v)?.into_iter().enumerate() {
        let src = format!("{source} [[override]] #{}", i + 1);
        if let Some(k) = t.keys().find(|k| *k != "when" && *k != "set") {
            return Err(ConfigError::new(&src, k, "unknown field (expected when, set)"));
        }
        let when = t.remove("when").ok_or_else(|| ConfigError::new(&src, "when", "missing"))?;
        let set = t.remove("set").ok_or_else(|| ConfigError::new(&src, "set", "missing"))?;
        let when = RunSettings::from_map(&format!("{src} when"), table(&src, "when", &when)?)?;
        let set = RunSettings::from_map(&format!("{src} set"), table(&src, "set", &set)?)?;
        out.push((when, set));
    }
    Ok(out)
}

fn resolve(d: Draft, mut s: RunSettings, index: usize) -> Result<PlannedCell, ConfigError> {
    // The row: the test name without any `name` given, plus what else sets the cell apart.
    let mut probe = s.clone();
    probe.name = None;
    probe.seed = Some(0);
    let mut row = probe.with_dependent_defaults().resolve().test_name();
    for (k, v) in &d.distinct {
        if !NAMED.contains(&k.as_str()) {
            row.push('-');
            row.push_str(&fragment(k, v));
        }
    }
    if s.seed.is_none() {
        s.seed = Some(derived_seed(&row));
    }
    let cfg = s.into_config().map_err(|e| ConfigError { source_name: d.source.clone(), ..e })?;
    let planted = cfg.unsafe_bug.is_some() || cfg.etcd_serializable_reads;
    // A Maelstrom node is the user's program: only its cell knows whether it plants a bug.
    let user_node = cfg.system == faultline_api::SystemKind::Maelstrom;
    let expect = match d.expect {
        Some(Expect::Catch) if !planted && !user_node => {
            return Err(ConfigError::new(
                &d.source,
                "expect",
                "\"catch\" needs a planted bug (unsafe-bug, or etcd-serializable-reads), or a \
                 Maelstrom node (system = \"maelstrom\") that plants one",
            ))
        }
        Some(e) => e,
        None if planted => Expect::Catch,
        None => Expect::Pass,
    };
    Ok(PlannedCell {
        index,
        id: format!("{row}-s{}", cfg.seed),
        origin: d.origin,
        expect,
        config: cfg,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_api::{SystemKind, UnsafeBug};

    /// The issue's example, exactly as written.
    pub(crate) const SMOKE: &str = r#"name = "smoke"
[defaults]            # any `faultline run` setting, as in a test file
time-limit = 8
nemesis-interval = 2
nodes = 3
[matrix]              # the cross product of these
system = ["faultline"]
workload = ["register", "kv"]
nemesis = ["partition", "kill"]
seed = [1, 2]
[[cell]]              # an extra cell
workload = "register"
nemesis = "partition"
unsafe-bug = "stale-reads"
expect = "catch"
"#;

    #[test]
    fn the_issue_example_resolves() {
        let plan = parse("smoke.toml", SMOKE).unwrap();
        assert_eq!(plan.name, "smoke");
        assert_eq!(plan.cells.len(), 9);
        let ids: Vec<&str> = plan.cells.iter().map(|c| c.id.as_str()).collect();
        assert!(ids.contains(&"faultline-register-partition-3n-s1"), "{ids:?}");
        assert!(ids.contains(&"faultline-kv-kill-3n-s2"), "{ids:?}");
        let extra = &plan.cells[8];
        assert_eq!(extra.expect, Expect::Catch);
        assert_eq!(extra.config.unsafe_bug, Some(UnsafeBug::StaleReads));
        assert_eq!((extra.config.time_limit, extra.config.nodes), (8.0, 3));
        assert!(plan.cells[..8]
            .iter()
            .all(|c| c.expect == Expect::Pass && c.config.time_limit == 8.0));
        // The seed an extra cell does not give is the same every time.
        assert_eq!(parse("smoke.toml", SMOKE).unwrap().cells[8].config.seed, extra.config.seed);
        assert!(plan.cells.iter().enumerate().all(|(i, c)| c.index == i));
    }

    #[test]
    fn maelstrom_cells_name_their_command_and_may_expect_catch() {
        let text = r#"name = "m"
[defaults]
system = "maelstrom"
workload = "register"
time-limit = 60
[matrix]
seed = [1, 2]
node-cmd = ["python3 examples/maelstrom/raft_kv.py"]
[[cell]]
node-cmd = "python3 examples/maelstrom/raft_kv.py --bug no-dedup"
expect = "catch"
"#;
        let plan = parse("m.toml", text).unwrap();
        assert_eq!(plan.cells.len(), 3);
        assert!(plan.cells[..2].iter().all(|c| c.expect == Expect::Pass), "{:?}", plan.cells);
        let bug = &plan.cells[2];
        assert_eq!(bug.expect, Expect::Catch);
        assert!(
            bug.id.starts_with(
                "maelstrom-register-partition+loss+pause-3n-python3-raft_kv.py-bug-no_dedup-s"
            ),
            "{}",
            bug.id
        );
        assert_ne!(plan.cells[0].id, bug.id);
    }

    #[test]
    fn errors_name_the_table_and_key() {
        #[rustfmt::skip]
        let cases = [
            ("name = \"x\"\ncolour = 1\n",                              "colour",      "unknown field"),
            ("[defaults]\n",                                            "name",        "missing"),
            ("name = \"x\"\n[defaults]\nnodes = 12\n",                  "nodes",       "not in 1..=9"),
            ("name = \"x\"\n[defaults]\ncolour = 1\n",                  "colour",      "unknown field"),
            ("name = \"x\"\n[matrix]\nworkload = [\"queue\"]\n",        "workload",    "unknown workload"),
            ("name = \"x\"\n[matrix]\nflavour = [1]\n",                 "flavour",     "unknown field"),
            ("name = \"x\"\n[matrix]\nseed = []\n",                     "seed",        "at least one"),
            ("name = \"x\"\n[[cell]]\nexpect = \"catch\"\n",            "expect",      "planted bug"),
            ("name = \"x\"\n[[cell]]\nexpect = \"maybe\"\n",            "expect",      "unknown expectation"),
            ("name = \"../x\"\n",                                       "name",        "directory name"),
            ("name = \"x\"\n[[override]]\nwhen = {}\nset = {rate = -1}\n", "rate",     "unlimited"),
            ("name = \"x\"\n[matrix]\nsystem = [\"etcd\"]\nnemesis = [\"clock\"]\n", "nemesis", "cannot be installed"),
            ("name = \"x\"\n[[cell]]\n[[cell]]\n",                       "cell",       "appears twice"),
        ];
        for (text, field, needle) in cases {
            let e = parse("c.toml", text).unwrap_err();
            assert_eq!(e.field, field, "{text}: {e}");
            assert!(e.message.contains(needle), "{text}: {e}");
            assert!(e.source_name.starts_with("c.toml"), "{e}");
        }
        let e = parse("c.toml", "name = \"x\"\n[matrix]\nnodes = [0]\n").unwrap_err();
        assert_eq!(e.source_name, "c.toml [matrix]");
    }

    #[test]
    fn exclude_override_and_extra_axes() {
        let text = r#"name = "n"
[defaults]
time-limit = 5
[matrix]
system = ["faultline", "etcd"]
nemesis = ["partition", "clock"]
rate = [100, 300]
[[exclude]]
system = "etcd"
nemesis = "clock"
[[override]]
when = { system = "etcd" }
set = { time-limit = 9 }
[[cell]]
system = "etcd"
etcd-serializable-reads = true
"#;
        let plan = parse("n.toml", text).unwrap();
        assert_eq!(plan.cells.len(), 6 + 1);
        for c in &plan.cells {
            let etcd = c.config.system == SystemKind::Etcd;
            assert_eq!(c.config.time_limit, if etcd { 9.0 } else { 5.0 }, "{}", c.id);
        }
        assert!(plan.cells.iter().any(|c| c.id.contains("-rate=300-s")), "{:?}", plan.cells);
        let last = plan.cells.last().unwrap();
        assert_eq!(last.expect, Expect::Catch);
        assert!(last.id.starts_with("etcd-kv-partition+kill-3n-serializable"), "{}", last.id);
    }
}
