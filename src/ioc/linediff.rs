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
    // common[i * width + j]: the longest common subsequence of a[i..] and
    // b[j..], one row per line of `a` and a last row of zeros. Filled and
    // read through iterators and `get`, so no index can panic.
    let width = b.len() + 1;
    let mut common = vec![0u16; (a.len() + 1) * width];
    let mut rows = common.chunks_exact_mut(width).rev();
    let mut below: &[u16] = rows.next().map_or(&[], |row| row);
    for (row, x) in rows.zip(a.iter().rev()) {
        // Right to left: `right` is row[j + 1], `diagonal` below[j + 1].
        let (mut right, mut diagonal) = (0, 0);
        for ((cell, &down), y) in row.iter_mut().zip(below).zip(&b).rev() {
            *cell = if x == y { diagonal + 1 } else { down.max(right) };
            (right, diagonal) = (*cell, down);
        }
        below = row;
    }
    let at = |i: usize, j: usize| common.get(i * width + j).copied().unwrap_or(0);
    let (mut i, mut j) = (0, 0);
    loop {
        match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x == y => {
                line(' ', x);
                (i, j) = (i + 1, j + 1);
            }
            (Some(x), y) if y.is_none() || at(i + 1, j) >= at(i, j + 1) => {
                line('-', x);
                i += 1;
            }
            (_, Some(y)) => {
                line('+', y);
                j += 1;
            }
            // Both at their end (a line of `a` with `b` at its end took
            // the arm above).
            _ => return out,
        }
    }
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

    /// The longest common subsequence's length, by plain recursion.
    fn lcs(a: &[&str], b: &[&str]) -> usize {
        match (a, b) {
            ([x, a @ ..], [y, b @ ..]) if x == y => 1 + lcs(a, b),
            ([_, a_rest @ ..], [_, b_rest @ ..]) => lcs(a_rest, b).max(lcs(a, b_rest)),
            _ => 0,
        }
    }

    #[test]
    fn every_pair_of_small_inputs_is_a_shortest_edit() {
        // All inputs of up to four lines of `a` and `b`: the diff gives back
        // both sides and keeps as many lines as any common subsequence.
        let inputs: Vec<Vec<&str>> = (0..31u32)
            .map(|n| {
                let len = 31 - (n + 1).leading_zeros();
                (0..len).map(|k| if (n + 1) >> k & 1 == 1 { "b" } else { "a" }).collect()
            })
            .collect();
        for a in &inputs {
            for b in &inputs {
                let text = |lines: &[&str]| lines.iter().map(|l| format!("{l}\n")).collect::<String>();
                let shown = diff(&text(a), &text(b));
                let side = |skip: char| shown.lines().filter(|l| !l.starts_with(skip)).map(|l| &l[1..]).collect::<Vec<_>>();
                assert_eq!((side('+'), side('-')), (a.clone(), b.clone()), "{a:?} {b:?}");
                assert_eq!(shown.lines().filter(|l| l.starts_with(' ')).count(), lcs(a, b), "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn huge_inputs_are_a_whole_replacement() {
        let old = "x\n".repeat(MAX_LINES + 1);
        let shown = diff(&old, "y\n");
        assert_eq!(shown.lines().count(), MAX_LINES + 2);
        assert!(shown.ends_with("+y\n"));
    }
}
