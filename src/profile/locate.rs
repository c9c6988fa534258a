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
struct Node {
    pos: Position,
    key_pos: Option<Position>,
    scalar: bool,
    entries: Vec<(String, Node)>,
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
            _ => node.entries.iter().find(|(k, _)| k == key).map(|(_, c)| c),
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
                Event::Scalar(ref text, ..) => text.clone(),
                _ => String::new(),
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
    fn keys_of_other_branches_do_not_match() {
        assert_eq!(at(&["lambda", "issuer"]), (3, 1));
    }
}
