//! Finds where a key path (`lambda.concurrency_target`) stands in a YAML source, so errors found
//! after parsing can still name the line and column.

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::Marker;

/// A 1-based line and column in a source file, and its byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
    pub offset: usize,
}

/// A node of the source: where it starts, where its key stands (in a mapping), and its children.
/// Entries of a mapping are keyed by their text; a complex or aliased key has none.
struct Node {
    pos: Position,
    key_pos: Option<Position>,
    scalar: bool,
    entries: Vec<(Option<String>, Node)>,
    items: Vec<Node>,
}

/// The position of the value at `path`: keys of nested mappings, or indexes (`"1"`) of
/// sequences. A scalar is pointed at itself, a mapping or sequence at its key. When the path is
/// not in the source (a default was used), the position of its deepest ancestor that is; the
/// start of the file when none is.
pub fn locate(source: &str, path: &[&str]) -> Position {
    let start = Position {
        line: 1,
        column: 1,
        offset: 0,
    };
    let Some(root) = parse(source) else {
        return start;
    };
    let mut node = &root;
    let mut found = if path.is_empty() { root.pos } else { start };
    for key in path {
        let child = match key.parse::<usize>() {
            Ok(i) if !node.items.is_empty() => node.items.get(i),
            _ => node
                .entries
                .iter()
                .find(|(k, _)| k.as_deref() == Some(*key))
                .map(|(_, c)| c),
        };
        match child {
            Some(child) => {
                found = if child.scalar {
                    child.pos
                } else {
                    child.key_pos.unwrap_or(child.pos)
                };
                node = child;
            }
            None => break,
        }
    }
    found
}

/// A key given twice in one mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    /// The path of the mapping (keys, and indexes of sequences), as [`locate`] takes it.
    pub path: Vec<String>,
    pub key: String,
    /// Where the key is first given.
    pub first: Position,
    /// Where it is given again.
    pub again: Position,
}

/// Every key given twice in one mapping of the source, in the order of the source (the second
/// occurrence decides). Empty when the source is not YAML the locator can read.
pub fn duplicates(source: &str) -> Vec<Duplicate> {
    let mut out = Vec::new();
    if let Some(root) = parse(source) {
        find_duplicates(&root, &mut Vec::new(), &mut out);
    }
    out.sort_by_key(|d| d.again.offset);
    out
}

/// The place of a duplicate `key` that a parser reported at the mapping that starts at `line`
/// and `column` (serde_yaml names the mapping, not the key): that mapping's duplicate when it has
/// one, else the first duplicate `key` of the source.
pub fn duplicate_of(source: &str, key: &str, line: usize, column: usize) -> Option<Duplicate> {
    let all: Vec<Duplicate> = duplicates(source)
        .into_iter()
        .filter(|d| d.key == key)
        .collect();
    let starts_at = |d: &Duplicate| {
        let mapping = locate_mapping(source, &d.path);
        mapping.is_some_and(|(own, first_key)| {
            [own, first_key]
                .iter()
                .any(|p| (p.line, p.column) == (line, column))
        })
    };
    all.iter()
        .find(|d| starts_at(d))
        .or_else(|| all.first())
        .cloned()
}

/// Where the mapping at `path` starts, and where its first key stands.
fn locate_mapping(source: &str, path: &[String]) -> Option<(Position, Position)> {
    let root = parse(source)?;
    let mut node = &root;
    for key in path {
        node = match key.parse::<usize>() {
            Ok(i) if !node.items.is_empty() => node.items.get(i)?,
            _ => node
                .entries
                .iter()
                .find(|(k, _)| k.as_deref() == Some(key.as_str()))
                .map(|(_, c)| c)?,
        };
    }
    let first_key = node.entries.first()?.1.key_pos?;
    Some((node.pos, first_key))
}

fn find_duplicates(node: &Node, path: &mut Vec<String>, out: &mut Vec<Duplicate>) {
    let mut seen: Vec<(&str, Position)> = Vec::new();
    for (key, child) in &node.entries {
        if let (Some(key), Some(at)) = (key, child.key_pos) {
            match seen.iter().find(|(k, _)| k == key) {
                Some((_, first)) => out.push(Duplicate {
                    path: path.clone(),
                    key: key.clone(),
                    first: *first,
                    again: at,
                }),
                None => seen.push((key, at)),
            }
        }
        path.push(key.clone().unwrap_or_default());
        find_duplicates(child, path, out);
        path.pop();
    }
    for (i, item) in node.items.iter().enumerate() {
        path.push(i.to_string());
        find_duplicates(item, path, out);
        path.pop();
    }
}

fn parse(source: &str) -> Option<Node> {
    let mut parser = Parser::new_from_str(source);
    loop {
        let (event, mark) = parser.next_token().ok()?;
        match event {
            Event::StreamEnd => return None,
            Event::Scalar(..) | Event::MappingStart(..) | Event::SequenceStart(..) => {
                return node(&mut parser, event, mark, source)
            }
            _ => {}
        }
    }
}

/// Reads the node that `event` starts, consuming its children.
fn node(
    parser: &mut Parser<std::str::Chars>,
    event: Event,
    mark: Marker,
    source: &str,
) -> Option<Node> {
    let pos = position(source, mark);
    let scalar = matches!(event, Event::Scalar(..));
    let mut entries = Vec::new();
    let mut items = Vec::new();
    match event {
        Event::MappingStart(..) => loop {
            let (key, key_mark) = parser.next_token().ok()?;
            let key_text = match key {
                Event::MappingEnd => break,
                Event::Scalar(ref text, ..) => Some(text.clone()),
                _ => None,
            };
            // A complex key is read and ignored.
            let key_node = node(parser, key, key_mark, source)?;
            let (value, value_mark) = parser.next_token().ok()?;
            let mut value = node(parser, value, value_mark, source)?;
            value.key_pos = Some(key_node.pos);
            entries.push((key_text, value));
        },
        Event::SequenceStart(..) => loop {
            let (item, item_mark) = parser.next_token().ok()?;
            if matches!(item, Event::SequenceEnd) {
                break;
            }
            items.push(node(parser, item, item_mark, source)?);
        },
        _ => {}
    }
    Some(Node {
        pos,
        key_pos: None,
        scalar,
        entries,
        items,
    })
}

/// The line and column of a byte offset (moved back to the start of its character), counting
/// lines as libyaml does: a line ends at `\n`, `\r\n`, `\r`, NEL, LS or PS.
pub fn position_at(source: &str, offset: usize) -> Position {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    let (mut line, mut column) = (1, 1);
    let mut chars = source[..offset].chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}' => {
                line += 1;
                column = 1;
            }
            _ => column += 1,
        }
    }
    Position {
        line,
        column,
        offset,
    }
}

fn position(source: &str, mark: Marker) -> Position {
    Position {
        line: mark.line(),
        column: mark.col() + 1,
        offset: source
            .char_indices()
            .nth(mark.index())
            .map(|(i, _)| i)
            .unwrap_or(source.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = "stack_name: demo\nregion: us-east-1\nlambda:\n  memory_mb: 256\n  concurrency_target: 0\nidentity:\n  provider: cognito\n  oauth2:\n    issuer: https://x\n";

    fn at(path: &[&str]) -> (usize, usize) {
        let p = locate(SRC, path);
        (p.line, p.column)
    }

    #[test]
    fn finds_nested_values() {
        assert_eq!(at(&["region"]), (2, 9));
        assert_eq!(at(&["lambda", "concurrency_target"]), (5, 23));
        assert_eq!(at(&["identity", "provider"]), (7, 13));
        assert_eq!(at(&["identity", "oauth2", "issuer"]), (9, 13));
        assert_eq!(at(&["lambda"]), (3, 1));
        assert_eq!(at(&["identity", "oauth2"]), (8, 3));
    }

    #[test]
    fn sequence_items_are_found_by_index() {
        let src = "images:\n  - name: a\n  - name: b\n";
        let p = locate(src, &["images", "1", "name"]);
        assert_eq!((p.line, p.column), (3, 11));
    }

    #[test]
    fn missing_keys_fall_back_to_the_nearest_ancestor() {
        assert_eq!(at(&["lambda", "architecture"]), (3, 1));
        assert_eq!(at(&["dynamodb", "default"]), (1, 1));
    }

    #[test]
    fn duplicate_keys_are_found_where_given_again() {
        let src = "# c\nx: 1\ny:\n  - k: 1\n    j: 2\n    k: 3\nz: {a: 1, a: 2}\nx: 4\n";
        let all = duplicates(src);
        let places: Vec<(&str, usize, usize, usize, usize)> = all
            .iter()
            .map(|d| {
                (
                    d.key.as_str(),
                    d.first.line,
                    d.first.column,
                    d.again.line,
                    d.again.column,
                )
            })
            .collect();
        assert_eq!(
            places,
            [("k", 4, 5, 6, 5), ("a", 7, 5, 7, 11), ("x", 2, 1, 8, 1)]
        );
        assert_eq!(all[0].path, ["y", "0"]);
        // serde_yaml names the mapping by its first key (block) or its brace (flow).
        let d = duplicate_of(src, "k", 4, 5).unwrap();
        assert_eq!((d.again.line, d.again.column), (6, 5));
        let d = duplicate_of(src, "a", 7, 4).unwrap();
        assert_eq!((d.again.line, d.again.column), (7, 11));
        assert!(duplicate_of(src, "q", 1, 1).is_none());
        assert!(duplicates("a: 1\nb: 2\n").is_empty());
    }

    #[test]
    fn byte_offsets_become_lines_and_columns() {
        let src = "# é\r\ns: a\0b\n";
        let p = position_at(src, 10);
        assert_eq!((p.line, p.column, p.offset), (2, 5, 10));
        assert_eq!(&src[p.offset..p.offset + 1], "\0");
        // Inside a character: its start.
        assert_eq!(
            position_at(src, 3),
            Position {
                line: 1,
                column: 3,
                offset: 2
            }
        );
        assert_eq!(position_at(src, 99).offset, src.len());
    }

    #[test]
    fn keys_of_other_branches_do_not_match() {
        assert_eq!(at(&["lambda", "issuer"]), (3, 1));
    }
}
