//! The elements' properties that are library choices (a backend, a precision, a crop mode…) as
//! GObject enum properties. Each choice's GType is registered at first use from the library
//! enum's own names and descriptions (`marlin_settings::Named`), so the elements hold no copy of
//! them: a value added to the library enum appears in `gst-inspect-1.0` as it is.

use std::ffi::CString;
use std::sync::Mutex;

use gst::glib;
use gst::glib::translate::{FromGlib, IntoGlib, from_glib};
use gst::prelude::*;
use marlin_settings::Named;

/// A library choice as a GObject enum value (its position in `T::ALL`).
#[derive(Debug, Clone, Copy)]
struct Choice<T>(T);

impl<T: Named> StaticType for Choice<T> {
    fn static_type() -> glib::Type {
        enum_type::<T>()
    }
}

impl<T: Named> IntoGlib for Choice<T> {
    type GlibType = i32;

    fn into_glib(self) -> i32 {
        self.0.index() as i32
    }
}

impl<T: Named> FromGlib<i32> for Choice<T> {
    unsafe fn from_glib(value: i32) -> Self {
        Choice(T::ALL.get(value as usize).copied().unwrap_or(T::ALL[0]))
    }
}

/// The GType `GstMarlin<Name>` of choice `T` (its Rust type's name), registered once.
pub fn enum_type<T: Named>() -> glib::Type {
    static REGISTERING: Mutex<()> = Mutex::new(());
    let rust_name = std::any::type_name::<T>().rsplit("::").next().unwrap_or("Choice");
    let name = format!("GstMarlin{rust_name}");
    let _guard = REGISTERING.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(t) = glib::Type::from_name(&name) {
        return t;
    }
    // GObject keeps these for the life of the process: they are made once per type and leaked.
    let leak = |s: String| CString::new(s).unwrap_or_default().into_raw().cast_const();
    let mut values: Vec<glib::gobject_ffi::GEnumValue> = T::ALL
        .iter()
        .enumerate()
        .map(|(i, v)| glib::gobject_ffi::GEnumValue {
            value: i as i32,
            value_name: leak(format!("{}: {}", v.name(), v.about())),
            value_nick: leak(v.name().to_string()),
        })
        .collect();
    values.push(glib::gobject_ffi::GEnumValue { value: 0, value_name: std::ptr::null(), value_nick: std::ptr::null() });
    let values = Box::leak(values.into_boxed_slice());
    let type_name = leak(name);
    // SAFETY: a name not registered yet (checked under the lock), and a zero-terminated array
    // of values that lives as long as the process.
    unsafe { from_glib(glib::gobject_ffi::g_enum_register_static(type_name, values.as_ptr())) }
}

/// The spec of an enum property for choice `T`, changeable up to READY.
pub fn property<T: Named>(name: &str, nick: &str, blurb: &str, default: T) -> glib::ParamSpec {
    glib::ParamSpecEnum::builder_with_default(name, Choice(default)).nick(nick).blurb(blurb).mutable_ready().build()
}

/// The choice a property value holds (`default` for a value of another type).
pub fn get<T: Named>(value: &glib::Value, default: T) -> T {
    glib::EnumValue::from_value(value).and_then(|(_, v)| marlin_settings::parse::<T>(v.nick()).ok()).unwrap_or(default)
}

/// A property value holding `choice`.
pub fn value<T: Named>(choice: T) -> glib::Value {
    glib::EnumClass::with_type(enum_type::<T>())
        .and_then(|class| class.to_value(choice.index() as i32))
        .unwrap_or_else(|| glib::Value::from_type(enum_type::<T>()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_choice_round_trips_through_its_gobject_enum() {
        gst::init().unwrap();
        let t = enum_type::<marlin_model::Backend>();
        assert_eq!(t.name(), "GstMarlinBackend");
        assert_eq!(enum_type::<marlin_model::Backend>(), t);
        let v = value(marlin_model::Backend::OnnxCpu);
        assert_eq!(get(&v, marlin_model::Backend::Cpu), marlin_model::Backend::OnnxCpu);
        let class = glib::EnumClass::with_type(t).unwrap();
        let nicks: Vec<&str> = class.values().iter().map(|v| v.nick()).collect();
        assert_eq!(nicks, marlin_settings::names::<marlin_model::Backend>());
        let spec = property("backend", "Backend", "Where it computes", marlin_model::Backend::Cpu);
        assert_eq!(spec.value_type(), t);
    }
}
