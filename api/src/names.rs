//! Enums whose variants have names: one declaration gives the enum, its names, `Display`,
//! `FromStr` (with an error that lists the names), serde by name, and `clap::ValueEnum`, so the
//! names in `--help`, in files, in JSON and in error messages all come from the enum itself.
//!
//! ```text
//!   names! { enum Backend ("backend") { Local = "local", Netns = "netns" } }
//!      ──▶ Backend::ALL, Backend::name(), Display, FromStr, Serialize, Deserialize, ValueEnum
//! ```

/// A name that is not one of an enum's names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {got:?} (expected {})", expected.join(", "))]
pub struct UnknownName {
    /// What kind of name (`fault`, `backend`, …).
    pub what: &'static str,
    /// The name given (cut to 80 characters).
    pub got: String,
    /// Every valid name.
    pub expected: &'static [&'static str],
}

impl UnknownName {
    /// The error for `got`, cut so that a hostile value is never echoed whole.
    pub fn new(what: &'static str, got: &str, expected: &'static [&'static str]) -> Self {
        UnknownName { what, got: crate::cut(got, 80), expected }
    }
}

/// Declares an enum with a name per variant (see the module docs).
///
/// # Examples
/// ```
/// faultline_api::names! {
///     /// A colour.
///     pub enum Colour ("colour") {
///         /// Like the sky.
///         Blue = "blue",
///         /// Like grass.
///         Green = "green",
///     }
/// }
/// assert_eq!("green".parse::<Colour>().unwrap(), Colour::Green);
/// assert_eq!(Colour::Blue.to_string(), "blue");
/// let e = "red".parse::<Colour>().unwrap_err().to_string();
/// assert_eq!(e, r#"unknown colour "red" (expected blue, green)"#);
/// ```
#[macro_export]
macro_rules! names {
    (
        $(#[$meta:meta])*
        $vis:vis enum $ty:ident ($what:literal) {
            $( $(#[doc = $doc:literal])* $variant:ident = $name:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        $vis enum $ty {
            $( $(#[doc = $doc])* $variant, )+
        }

        impl $ty {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];
            /// Every name, in declaration order.
            pub const NAMES: &'static [&'static str] = &[$($name),+];

            /// The variant's name, as in flags, files and JSON.
            pub fn name(self) -> &'static str {
                match self { $($ty::$variant => $name),+ }
            }
        }

        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl ::std::str::FromStr for $ty {
            type Err = $crate::names::UnknownName;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($name => Ok($ty::$variant),)+
                    _ => Err($crate::names::UnknownName::new($what, s, $ty::NAMES)),
                }
            }
        }

        impl $crate::reexport::serde::Serialize for $ty {
            fn serialize<S: $crate::reexport::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.name())
            }
        }

        impl<'de> $crate::reexport::serde::Deserialize<'de> for $ty {
            fn deserialize<D: $crate::reexport::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <::std::borrow::Cow<'de, str> as $crate::reexport::serde::Deserialize>::deserialize(d)?;
                s.parse().map_err($crate::reexport::serde::de::Error::custom)
            }
        }

        impl $crate::reexport::clap::ValueEnum for $ty {
            fn value_variants<'a>() -> &'a [Self] {
                $ty::ALL
            }
            fn to_possible_value(&self) -> Option<$crate::reexport::clap::builder::PossibleValue> {
                let help: &'static str = match self {
                    $($ty::$variant => concat!($($doc),*).trim_ascii()),+
                };
                Some($crate::reexport::clap::builder::PossibleValue::new(self.name()).help(help))
            }
        }
    };
}
