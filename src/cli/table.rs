//! Plain text tables for a dumb serial terminal: columns padded with
//! spaces, no colour, no box drawing (finit's `initctl` style).

/// Renders `rows` under `headers`, each column as wide as its widest cell,
/// separated by two spaces; the last column is not padded.
pub fn render(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut text = String::new();
        for (k, cell) in cells.enumerate() {
            if k > 0 {
                text.push_str("  ");
            }
            text.push_str(cell);
            if k + 1 < widths.len() {
                text.extend(std::iter::repeat_n(' ', widths[k].saturating_sub(cell.chars().count())));
            }
        }
        out.push_str(text.trim_ascii_end());
        out.push('\n');
    };
    line(&mut headers.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn columns_align() {
        let t = super::render(&["ID", "STATE", "DESCRIPTION"], &[vec!["a".into(), "running".into(), "x y".into()]]);
        assert_eq!(t, "ID  STATE    DESCRIPTION\na   running  x y\n");
    }
}
