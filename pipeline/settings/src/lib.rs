//! The vocabulary of user settings, declared once where each setting's concept lives:
//!
//! - a **choice** (a backend, a precision, a crop mode…) is an enum declared with [`named!`]:
//!   that one declaration gives it its names, a line of description per value (its doc
//!   comment), parsing ([`FromStr`](std::str::FromStr), whose error lists the names),
//!   `Display` and serde as those names;
//! - a **number** (a batch size, a frame rate…) has [`Bounds`], and [`Bounds::check`] refuses a
//!   value outside them (NaN included) with an error naming the setting, the value and the
//!   range.
//!
//! The command line, the settings file, the GStreamer elements and the Python module all take
//! them from there, so adding a value or changing a range is a change in one place.
//!
//! ```
//! marlin_settings::named! {
//!     /// How hard to try.
//!     pub enum Effort: "effort", default Some {
//!         /// Barely.
//!         Little = "little",
//!         /// As usual.
//!         Some = "some",
//!     }
//! }
//! assert_eq!("little".parse::<Effort>().unwrap(), Effort::Little);
//! assert_eq!(Effort::default().to_string(), "some");
//! assert_eq!(Effort::Little.about(), "Barely.");
//! assert!("lots".parse::<Effort>().unwrap_err().to_string().contains("little, some"));
//!
//! const TRIES: marlin_settings::Bounds<u32> = marlin_settings::Bounds::closed(1, 10);
//! assert!(TRIES.check("tries", 3).is_ok());
//! assert_eq!(TRIES.check("tries", 11).unwrap_err().to_string(), "tries must be in [1, 10], got 11");
//! ```

mod bounds;

pub use bounds::{Bounds, OutOfRange};

#[doc(hidden)]
pub use serde;

/// A choice with a fixed set of named values.
pub trait Named: Copy + Eq + Send + Sync + 'static {
    /// Every value, in the order shown to users.
    const ALL: &'static [Self];
    /// What is being chosen (`"backend"`), for messages.
    const WHAT: &'static str;
    /// The value's name, as users write it.
    fn name(self) -> &'static str;
    /// One line on what the value means (its doc comment).
    fn about(self) -> &'static str;

    /// The value's position in [`Self::ALL`].
    fn index(self) -> usize {
        Self::ALL.iter().position(|v| *v == self).unwrap_or(0)
    }
}

/// A name that is none of a choice's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{given}` is not a valid {what}: choose one of {}", expected.join(", "))]
pub struct UnknownName {
    pub given: String,
    pub what: &'static str,
    pub expected: Vec<&'static str>,
}

/// The value of `T` named `name`.
pub fn parse<T: Named>(name: &str) -> Result<T, UnknownName> {
    T::ALL.iter().copied().find(|v| v.name() == name).ok_or_else(|| UnknownName {
        given: name.to_string(),
        what: T::WHAT,
        expected: names::<T>(),
    })
}

/// Every name of `T`, in order.
pub fn names<T: Named>() -> Vec<&'static str> {
    T::ALL.iter().map(|v| v.name()).collect()
}

/// Declares a choice: the enum, its [`Named`] implementation, `Default`, `FromStr`, `Display`
/// and serde (as the names). Each value's doc comment is its [`Named::about`].
#[macro_export]
macro_rules! named {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident: $what:literal, default $default:ident {
            $(
                $(#[doc = $doc:literal])*
                $variant:ident = $text:literal
            ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $( $(#[doc = $doc])* $variant ),+
        }

        impl $crate::Named for $name {
            const ALL: &'static [Self] = &[$(Self::$variant),+];
            const WHAT: &'static str = $what;

            fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }

            fn about(self) -> &'static str {
                match self {
                    $(Self::$variant => concat!($($doc),*).trim_ascii()),+
                }
            }
        }

        impl $name {
            /// Every value, in the order shown to users.
            pub const ALL: &'static [Self] = <Self as $crate::Named>::ALL;

            /// The value's name, as users write it.
            pub fn name(self) -> &'static str {
                $crate::Named::name(self)
            }

            /// One line on what the value means.
            pub fn about(self) -> &'static str {
                $crate::Named::about(self)
            }
        }

        impl ::std::default::Default for $name {
            fn default() -> Self {
                Self::$default
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::UnknownName;

            fn from_str(s: &str) -> Result<Self, $crate::UnknownName> {
                $crate::parse(s)
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str($crate::Named::name(*self))
            }
        }

        impl $crate::serde::Serialize for $name {
            fn serialize<S: $crate::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str($crate::Named::name(*self))
            }
        }

        impl<'de> $crate::serde::Deserialize<'de> for $name {
            fn deserialize<D: $crate::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let name = <::std::string::String as $crate::serde::Deserialize>::deserialize(d)?;
                $crate::parse(&name).map_err(<D::Error as $crate::serde::de::Error>::custom)
            }
        }
    };
}

/// An error and its causes joined by `: `, leaving out a cause whose text the message already
/// holds (library errors often print their source themselves): how every front end reports an
/// error (the CLI's `error: …` line, the Python module's exception message).
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = String::new();
    let mut cause = Some(e);
    while let Some(c) = cause {
        let c_text = c.to_string();
        if !text.contains(&c_text) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&c_text);
        }
        cause = c.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    named! {
        /// A test choice.
        pub enum Colour: "colour", default Green {
            /// The colour of
            /// blood.
            Red = "red",
            Green = "green",
        }
    }

    #[test]
    fn names_parse_and_print() {
        assert_eq!("red".parse::<Colour>(), Ok(Colour::Red));
        assert_eq!(Colour::Green.to_string(), "green");
        assert_eq!(Colour::default(), Colour::Green);
        assert_eq!(Colour::Red.about(), "The colour of blood.");
        assert_eq!(Colour::Green.about(), "");
        assert_eq!(Colour::Green.index(), 1);
        assert_eq!(Colour::ALL.iter().map(|c| c.name()).collect::<Vec<_>>(), ["red", "green"]);
        let e = "blue".parse::<Colour>().unwrap_err().to_string();
        assert_eq!(e, "`blue` is not a valid colour: choose one of red, green");
    }

    #[test]
    fn serde_uses_the_names() {
        assert_eq!(serde_json::to_string(&Colour::Red).unwrap(), "\"red\"");
        assert_eq!(serde_json::from_str::<Colour>("\"green\"").unwrap(), Colour::Green);
        let e = serde_json::from_str::<Colour>("\"blue\"").unwrap_err().to_string();
        assert!(e.contains("`blue` is not a valid colour"), "{e}");
    }
}
