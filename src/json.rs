//! A small JSON writer with correct string escaping, for every `--json` output.
//! JSON is never built with format strings around raw values: every string
//! goes through [`Json::string`].

use std::fmt::Write;

/// Builds one JSON document into a `String`. Commas are inserted automatically.
#[derive(Default)]
pub struct Json {
    out: String,
    /// One entry per open container: whether it already has a member.
    has_member: Vec<bool>,
}

impl Json {
    pub fn new() -> Self {
        Json::default()
    }

    pub fn finish(self) -> String {
        self.out
    }

    fn before_value(&mut self) {
        if let Some(has) = self.has_member.last_mut() {
            if *has {
                self.out.push(',');
            }
            *has = true;
        }
    }

    pub fn begin_object(&mut self) -> &mut Self {
        self.before_value();
        self.out.push('{');
        self.has_member.push(false);
        self
    }

    pub fn end_object(&mut self) -> &mut Self {
        self.has_member.pop();
        self.out.push('}');
        self
    }

    pub fn begin_array(&mut self) -> &mut Self {
        self.before_value();
        self.out.push('[');
        self.has_member.push(false);
        self
    }

    pub fn end_array(&mut self) -> &mut Self {
        self.has_member.pop();
        self.out.push(']');
        self
    }

    /// An object key; the next call writes its value.
    pub fn key(&mut self, key: &str) -> &mut Self {
        self.before_value();
        escape_into(&mut self.out, key);
        self.out.push(':');
        // The value that follows belongs to this member: it must not add a comma
        // (its own `before_value` marks the member as written again).
        if let Some(has) = self.has_member.last_mut() {
            *has = false;
        }
        self
    }

    pub fn string(&mut self, value: &str) -> &mut Self {
        self.before_value();
        escape_into(&mut self.out, value);
        self
    }

    pub fn opt_string(&mut self, value: Option<&str>) -> &mut Self {
        match value {
            Some(v) => self.string(v),
            None => self.null(),
        }
    }

    /// An integer of any width up to 64 bits (and exactly, wider ones).
    /// Inlined so that each caller's type shows its magnitude fits a `u64`:
    /// the 128-bit formatting of the fallback is then never linked (900
    /// bytes on armv7, docs/ARCHITECTURE.md "Binary size").
    #[inline(always)]
    pub fn number(&mut self, value: impl Into<i128>) -> &mut Self {
        let value: i128 = value.into();
        match u64::try_from(value.unsigned_abs()) {
            Ok(magnitude) => self.integer(value < 0, magnitude),
            Err(_) => self.wide_integer(value),
        }
    }

    fn integer(&mut self, negative: bool, magnitude: u64) -> &mut Self {
        self.before_value();
        if negative {
            self.out.push('-');
        }
        let _ = write!(self.out, "{magnitude}");
        self
    }

    #[cold]
    fn wide_integer(&mut self, value: i128) -> &mut Self {
        self.before_value();
        let _ = write!(self.out, "{value}");
        self
    }

    /// A count of thousandths as a decimal number, written as Rust writes
    /// the f64 (`1240` as `1.24`, `2000` as `2`) without float formatting.
    pub fn thousandths(&mut self, value: u64) -> &mut Self {
        self.before_value();
        let _ = write!(self.out, "{}", value / 1000);
        if value % 1000 != 0 {
            let _ = write!(self.out, ".{:03}", value % 1000);
            while self.out.ends_with('0') {
                self.out.pop();
            }
        }
        self
    }

    pub fn bool(&mut self, value: bool) -> &mut Self {
        self.before_value();
        self.out.push_str(if value { "true" } else { "false" });
        self
    }

    pub fn null(&mut self) -> &mut Self {
        self.before_value();
        self.out.push_str("null");
        self
    }

    /// `"key": "value"` in one call.
    pub fn field_str(&mut self, key: &str, value: &str) -> &mut Self {
        self.key(key).string(value)
    }

    pub fn field_num(&mut self, key: &str, value: impl Into<i128>) -> &mut Self {
        self.key(key).number(value)
    }

    pub fn field_bool(&mut self, key: &str, value: bool) -> &mut Self {
        self.key(key).bool(value)
    }

    /// `"key": ["a", "b"]`.
    pub fn field_strings<S: AsRef<str>>(&mut self, key: &str, values: &[S]) -> &mut Self {
        self.key(key).begin_array();
        for v in values {
            self.string(v.as_ref());
        }
        self.end_array()
    }
}

/// Appends `s` as a quoted JSON string.
pub fn escape_into(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousandths_read_as_the_f64_would() {
        for value in (0..20_000).chain([999_999, 1_000_001, 123_456_789_012]) {
            let mut j = Json::new();
            j.thousandths(value);
            assert_eq!(j.finish(), format!("{}", value as f64 / 1000.0), "{value}");
        }
    }

    #[test]
    fn nested_document_has_commas_in_the_right_places() {
        let mut j = Json::new();
        j.begin_object().field_str("a", "x\"y\n").key("b").begin_array();
        j.number(1).number(2).begin_object().field_bool("c", true).end_object();
        j.end_array().key("d").null().end_object();
        assert_eq!(j.finish(), r#"{"a":"x\"y\n","b":[1,2,{"c":true}],"d":null}"#);
    }

    #[test]
    fn numbers_of_every_width_are_written_exactly() {
        let mut j = Json::new();
        j.begin_array().number(0u8).number(-1i8).number(i64::MIN).number(u64::MAX).number(i128::MIN).number(i128::MAX).number(i128::from(u64::MAX) + 1).end_array();
        assert_eq!(j.finish(), format!("[0,-1,{},{},{},{},{}]", i64::MIN, u64::MAX, i128::MIN, i128::MAX, i128::from(u64::MAX) + 1));
    }

    #[test]
    fn control_characters_are_escaped() {
        let mut s = String::new();
        escape_into(&mut s, "\u{1}\u{1b}[0m\\");
        assert_eq!(s, r#""\u0001\u001b[0m\\""#);
    }
}
