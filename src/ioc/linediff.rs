//! A line diff for `ioc generate` and `ioc install` to show what an
//! overwrite would change (a board has no `diff` binary to ask). IOC files
//! are a few dozen lines, so the plain longest-common-subsequence table is
//! small; bigger inputs are shown as a whole replacement instead. A line
//! is shown with its control characters escaped (`\x1b`): the files come
//! from an IOC directory others write, and a comment line must not drive
//! the terminal of whoever installs it.

use core::fmt::Write;

use crate::logging::Escaped;

/// Inputs with more lines than this are not compared line by line.
const MAX_LINES: usize = 2000;

/// `old` turned into `new`: every line prefixed with `-` (only in `old`),
/// `+` (only in `new`) or a blank (in both), in order.
pub fn diff(old: &str, new: &str) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let mut out = String::new();
    let mut line = |mark: char, text: &str| {
        out.push(mark);
        let _ = Escaped(&mut out).write_str(text);
        out.push('\n');
    };
    if a.len() > MAX_LINES || b.len() > MAX_LINES {
        a.iter().for_each(|l| line('-', l));
        b.iter().for_each(|l| line('+', l));
        return out;
    }
    // common[i][j]: the longest common subsequence of a[i..] and b[j..].
    let mut common = vec![vec![0u16; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            common[i][j] = if a[i] == b[j] { common[i + 1][j + 1] + 1 } else { common[i + 1][j].max(common[i][j + 1]) };
        }
    }
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            line(' ', a[i]);
            (i, j) = (i + 1, j + 1);
        } else if i < a.len() && (j == b.len() || common[i + 1][j] >= common[i][j + 1]) {
            line('-', a[i]);
            i += 1;
        } else {
            line('+', b[j]);
            j += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_added_and_removed_lines_are_marked() {
        let old = "IOC_NAME=\"vac1\"\nIOC_CMD=\"./st.cmd\"\n# tampered\n";
        let new = "IOC_NAME=\"vac1\"\nIOC_USER=\"me\"\nIOC_CMD=\"./st2.cmd\"\n";
        assert_eq!(diff(old, new), " IOC_NAME=\"vac1\"\n-IOC_CMD=\"./st.cmd\"\n-# tampered\n+IOC_USER=\"me\"\n+IOC_CMD=\"./st2.cmd\"\n");
        assert_eq!(diff("a\nb\n", "a\nb\n"), " a\n b\n");
        assert_eq!(diff("", "a\n"), "+a\n");
    }

    #[test]
    fn control_characters_are_shown_escaped() {
        let old = "# ok\n";
        let new = "# \x1b]0;owned\x07\x1b[2J\u{9b}31m\rX\n";
        assert_eq!(diff(old, new), "-# ok\n+# \\x1b]0;owned\\x07\\x1b[2J\\u{9b}31m\\rX\n");
        assert_eq!(diff("a\tb\n", ""), "-a\\tb\n");
    }

    #[test]
    fn huge_inputs_are_a_whole_replacement() {
        let old = "x\n".repeat(MAX_LINES + 1);
        let shown = diff(&old, "y\n");
        assert_eq!(shown.lines().count(), MAX_LINES + 2);
        assert!(shown.ends_with("+y\n"));
    }
}
