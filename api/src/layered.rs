//! Settings that come in layers — command-line flags over a file over defaults — declared
//! once. One `layered!` declaration gives both structs and everything between them:
//!
//! ```text
//!   layered! { pub struct Settings => pub struct Config { /// doc  #[arg(..)]  field: T = default; check f, .. } }
//!
//!   argv ──clap──▶ Settings ─┐                       (every field Option<T>; clap::Args and
//!   file ──serde─▶ Settings ─┴─ or() ─▶ check() ─▶    serde from the same struct, kebab-case,
//!                                       resolve() ─▶ Config (defaults filled in, typed)
//!   Config ──to_settings()──▶ Settings (what a replay reads back)
//! ```
//!
//! A field with `= default` is plain `T` in the resolved struct; a field without one stays
//! `Option<T>` there. `check f` names a function `fn(&T) -> Result<(), String>` that
//! [`Layer::check`] runs on the field when it is set, so a value is range-checked where it
//! is parsed. Adding a setting is one line in the declaration plus its use.

use serde::de::DeserializeOwned;
use serde_json::Value;

/// A setting that cannot be used, naming where it came from and which field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}: field `{field}`: {message}")]
pub struct ConfigError {
    /// The file, or `command line`, or `configuration` for cross-field checks.
    pub source_name: String,
    /// The field at fault, kebab-case as in files and flags (`-` for the whole file).
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl ConfigError {
    /// An error about `field` of `source`.
    pub fn new(source: &str, field: &str, message: impl Into<String>) -> Self {
        ConfigError { source_name: source.into(), field: field.into(), message: message.into() }
    }
}

/// The first key (kebab-case, dotted for nested tables) whose value is a NaN or infinite
/// float, at any depth of `table`.
fn non_finite(table: &toml::Table) -> Option<String> {
    fn walk(v: &toml::Value) -> Option<String> {
        match v {
            toml::Value::Float(f) if !f.is_finite() => Some(String::new()),
            toml::Value::Array(items) => items.iter().find_map(walk),
            toml::Value::Table(t) => non_finite(t),
            _ => None,
        }
    }
    table.iter().find_map(|(k, v)| {
        let k = crate::cut(&k.replace('_', "-"), 60);
        walk(v).map(|rest| if rest.is_empty() { k.clone() } else { format!("{k}.{rest}") })
    })
}

/// What `layered!` implements for the layer struct; generic code (file parsing, the server's
/// spec check) goes through it.
pub trait Layer: Sized + Default + DeserializeOwned {
    /// Every field's name as declared (snake_case), in declaration order.
    const FIELDS: &'static [&'static str];

    /// Every field's name as in files and flags (kebab-case), in declaration order.
    fn field_names() -> Vec<String> {
        Self::FIELDS.iter().map(|f| f.replace('_', "-")).collect()
    }

    /// The fields that are set, kebab-case, in declaration order.
    fn set_fields(&self) -> Vec<String>;

    /// Runs each set field's check.
    ///
    /// # Errors
    /// The first bad field, named, with `source` as where it came from.
    fn check(&self, source: &str) -> Result<(), ConfigError>;

    /// Parses a settings file's text: TOML, or JSON when `json`. Unknown keys, wrong types
    /// and bad values are errors naming `source` and the field; `_` in keys reads as `-`.
    ///
    /// # Errors
    /// The first problem, naming the file (and line, for TOML syntax) and the field.
    fn parse_text(source: &str, text: &str, json: bool) -> Result<Self, ConfigError> {
        let whole = |m: String| ConfigError::new(source, "-", m);
        let value: Value = if json {
            serde_json::from_str(text).map_err(|e| whole(e.to_string()))?
        } else {
            let table: toml::Table =
                toml::from_str(text).map_err(|e| whole(e.to_string().trim().to_string()))?;
            // JSON has no NaN or infinity: serde_json would turn them into null, and a null
            // setting reads as unset, so `time-limit = nan` would silently become the default.
            if let Some(key) = non_finite(&table) {
                return Err(ConfigError::new(
                    source,
                    &key,
                    "must be a finite number (nan and inf are not accepted)",
                ));
            }
            serde_json::to_value(table).map_err(|e| whole(e.to_string()))?
        };
        let Value::Object(map) = value else {
            return Err(whole("expected a table of settings".into()));
        };
        Self::from_map(source, map)
    }

    /// Reads settings from a table already parsed (a section of a larger file, such as a
    /// campaign's `[defaults]`): unknown keys, wrong types and bad values are errors naming
    /// `source` and the field; `_` in keys reads as `-`.
    ///
    /// # Errors
    /// The first problem, naming `source` and the field.
    fn from_map(source: &str, map: serde_json::Map<String, Value>) -> Result<Self, ConfigError> {
        let whole = |m: String| ConfigError::new(source, "-", m);
        // Deserialize field by field, so that an error names its field.
        let mut merged = serde_json::Map::new();
        for (key, v) in map {
            let key = key.replace('_', "-");
            if !Self::field_names().contains(&key) {
                let key = crate::cut(&key, 60);
                return Err(ConfigError::new(source, &key, "unknown field"));
            }
            let one = Value::Object([(key.clone(), v.clone())].into_iter().collect());
            serde_json::from_value::<Self>(one)
                .map_err(|e| ConfigError::new(source, &key, crate::cut(&e.to_string(), 200)))?;
            merged.insert(key, v);
        }
        let layer: Self = serde_json::from_value(Value::Object(merged))
            .map_err(|e| whole(crate::cut(&e.to_string(), 200)))?;
        layer.check(source)?;
        Ok(layer)
    }

    /// Reads a settings file: `.json` as JSON, anything else as TOML (at most 1 MiB).
    ///
    /// # Errors
    /// As [`Layer::parse_text`], or the file cannot be read.
    fn from_file(path: &std::path::Path) -> Result<Self, ConfigError> {
        let name = path.display().to_string();
        let meta =
            std::fs::metadata(path).map_err(|e| ConfigError::new(&name, "-", e.to_string()))?;
        if meta.len() > 1 << 20 {
            return Err(ConfigError::new(&name, "-", "larger than 1 MiB"));
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::new(&name, "-", e.to_string()))?;
        Self::parse_text(&name, &text, path.extension().is_some_and(|e| e == "json"))
    }
}

/// Checks for [`crate::layered!`]'s `check` clauses.
pub mod checks {
    /// A number in `lo..=hi`.
    ///
    /// # Errors
    /// The value and the range, in words.
    pub fn range<T: PartialOrd + std::fmt::Display + Copy>(
        lo: T,
        hi: T,
    ) -> impl Fn(&T) -> Result<(), String> {
        move |v| {
            if *v >= lo && *v <= hi {
                Ok(())
            } else {
                Err(format!("{v} is not in {lo}..={hi}"))
            }
        }
    }

    /// Seconds: finite, positive, at most `max`.
    ///
    /// # Errors
    /// The value, in words.
    pub fn seconds(max: f64) -> impl Fn(&f64) -> Result<(), String> {
        move |v| {
            if v.is_finite() && *v > 0.0 && *v <= max {
                Ok(())
            } else {
                Err(format!("must be a number of seconds in (0, {max}], got {v}"))
            }
        }
    }

    /// A name usable as one directory: not empty, no `/`, not `latest`, no leading `.`.
    ///
    /// # Errors
    /// Which rule it breaks.
    pub fn dir_name(n: &String) -> Result<(), String> {
        if n.is_empty()
            || n.len() > 100
            || n.contains(['/', '\\'])
            || n.chars().any(char::is_control)
            || n == "latest"
            || n.starts_with('.')
        {
            return Err(format!("{:?} is not a usable directory name", crate::cut(n, 60)));
        }
        Ok(())
    }
}

/// Declares layered settings (see the module docs). The structs derive serde's and clap's
/// traits, so the calling crate depends on `serde` and `clap` itself.
///
/// # Examples
/// ```
/// use faultline_api::layered::Layer;
/// faultline_api::layered! {
///     /// Flags and file keys.
///     pub struct Knobs => /// Resolved.
///     pub struct Resolved {
///         /// How many.
///         #[arg(long)]
///         count: u32 = 3; check faultline_api::layered::checks::range(1, 9),
///         /// A label, none by default.
///         #[arg(long)]
///         label: String,
///     }
/// }
/// let file = Knobs::parse_text("k.toml", "count = 5\nlabel = \"x\"", false).unwrap();
/// let flags = Knobs { count: Some(7), ..Knobs::default() };
/// let r = flags.or(file).resolve();
/// assert_eq!((r.count, r.label.as_deref()), (7, Some("x")));
/// assert_eq!(Knobs::default().resolve().count, 3);
/// let e = Knobs::parse_text("k.toml", "count = 12", false).unwrap_err();
/// assert_eq!(e.to_string(), "k.toml: field `count`: 12 is not in 1..=9");
/// ```
#[macro_export]
macro_rules! layered {
    (
        $(#[$smeta:meta])*
        $vis:vis struct $layer:ident => $(#[$rmeta:meta])* $rvis:vis struct $resolved:ident {
            $(
                $(#[doc = $doc:literal])*
                #[arg($($arg:tt)*)]
                $field:ident : $ty:ty $(= $default:expr)? $(; check $check:expr)?,
            )*
        }
    ) => {
        $(#[$smeta])*
        #[derive(Debug, Clone, Default, PartialEq, $crate::reexport::serde::Serialize, $crate::reexport::serde::Deserialize, $crate::reexport::clap::Args)]
        #[serde(rename_all = "kebab-case", deny_unknown_fields)]
        $vis struct $layer {
            $(
                $(#[doc = $doc])*
                #[arg($($arg)*)]
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $field: Option<$ty>,
            )*
        }

        $(#[$rmeta])*
        #[derive(Debug, Clone, PartialEq, $crate::reexport::serde::Serialize, $crate::reexport::serde::Deserialize)]
        #[serde(rename_all = "kebab-case")]
        $rvis struct $resolved {
            $(
                $(#[doc = $doc])*
                pub $field: $crate::layered!(@ty $ty $(, $default)?),
            )*
        }

        impl $crate::layered::Layer for $layer {
            const FIELDS: &'static [&'static str] = &[$(stringify!($field)),*];

            fn set_fields(&self) -> Vec<String> {
                let mut set = Vec::new();
                $(
                    if self.$field.is_some() {
                        set.push(stringify!($field).replace('_', "-"));
                    }
                )*
                set
            }

            fn check(&self, source: &str) -> Result<(), $crate::layered::ConfigError> {
                $($(
                    if let Some(v) = &self.$field {
                        ($check)(v).map_err(|m| $crate::layered::ConfigError::new(
                            source, $crate::layered!(@kebab $field), m))?;
                    }
                )?)*
                Ok(())
            }
        }

        impl $layer {
            /// `self` with every field it leaves unset taken from `base`.
            pub fn or(self, base: $layer) -> $layer {
                $layer { $($field: self.$field.or(base.$field)),* }
            }

            /// Every unset field takes its default.
            pub fn resolve(self) -> $resolved {
                $resolved { $($field: $crate::layered!(@resolve self.$field $(, $default)?)),* }
            }
        }

        impl $resolved {
            /// These settings as a layer with every field set (what a replay reads back).
            pub fn to_layer(&self) -> $layer {
                $layer { $($field: $crate::layered!(@back self.$field $(, $default)?)),* }
            }
        }
    };
    (@ty $ty:ty) => { Option<$ty> };
    (@ty $ty:ty, $default:expr) => { $ty };
    (@resolve $v:expr) => { $v };
    (@resolve $v:expr, $default:expr) => { $v.unwrap_or_else(|| $default) };
    (@back $v:expr) => { $v.clone() };
    (@back $v:expr, $default:expr) => { Some($v.clone()) };
    (@kebab $field:ident) => { &stringify!($field).replace('_', "-") };
}
