//! The bound on a file's depth, checked before it is parsed: the parser, the transforms and the
//! syntax tree's drop each recurse once per level.

use std::fmt;

use crate::{MAX_CHAIN, MAX_NESTING};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TooDeep {
    Nesting,
    Statements,
    Chain,
}

impl fmt::Display for TooDeep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TooDeep::Nesting => {
                write!(f, "code nested more than {MAX_NESTING} levels deep (parentheses, brackets or braces)")
            }
            TooDeep::Statements => write!(
                f,
                "statements nested more than {MAX_NESTING} levels deep without braces (if, else, for, while, do)"
            ),
            TooDeep::Chain => {
                write!(f, "an expression chaining more than {MAX_CHAIN} operators; split it into statements")
            }
        }
    }
}

/// Where the file's syntax tree may first grow too deep, by a scan that never under-counts:
/// brackets nest; operator characters chain until the `;` that ends their statement; and so do
/// the keywords of statements that nest without braces (`if (x) if (y) ...`: the printer indents
/// each level, so its output grows with the square of their number).
/// Characters in strings and comments count too; real code stays far below every bound.
pub(crate) fn check_depth(source: &str) -> Result<(), (usize, usize, TooDeep)> {
    // Operators so far in the current statement, one entry per open bracket; and statement
    // keywords, likewise.
    let mut levels: Vec<usize> = vec![0];
    let mut statements: Vec<usize> = vec![0];
    let mut chained = 0usize;
    let (mut line, mut column) = (1usize, 0usize);
    let mut word = String::new();
    for c in source.chars() {
        column += 1;
        if c.is_ascii_alphanumeric() || c == '_' || c == '$' {
            if word.len() < 8 {
                word.push(c);
            }
            continue;
        }
        if matches!(word.as_str(), "if" | "else" | "for" | "while" | "do" | "with") {
            let nested = statements.last_mut().expect("never empty");
            *nested += 1;
            if *nested > MAX_NESTING {
                return Err((line, column, TooDeep::Statements));
            }
        }
        word.clear();
        match c {
            '\n' => (line, column) = (line + 1, 0),
            '(' | '[' | '{' => {
                // A call or an index deepens the expression around it, like an operator.
                *levels.last_mut().expect("never empty") += 1;
                chained += 1;
                levels.push(0);
                statements.push(0);
                if levels.len() - 1 > MAX_NESTING {
                    return Err((line, column, TooDeep::Nesting));
                }
            }
            ')' | ']' | '}' if levels.len() > 1 => {
                chained -= levels.pop().expect("more than one");
                statements.pop();
            }
            ';' => {
                chained -= std::mem::take(levels.last_mut().expect("never empty"));
                *statements.last_mut().expect("never empty") = 0;
            }
            '!' | '~' | '+' | '-' | '*' | '/' | '%' | '<' | '>' | '=' | '&' | '|' | '^' | '?' | ':' | '.' => {
                *levels.last_mut().expect("never empty") += 1;
                chained += 1;
            }
            _ => {}
        }
        if chained > MAX_CHAIN {
            return Err((line, column, TooDeep::Chain));
        }
    }
    Ok(())
}
