//! Lexer and recursive-descent parser for the RFC 7644 §3.4.2.2 filter grammar (Figure 1), with precise error messages.

use super::ast::{AttrPath, CompValue, CompareOp, Filter, FilterError, FilterLimits};
use super::path::attr_path_from_word;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    /// Attribute paths, keywords and operators: the grammar decides which by position.
    Word(String),
    Str(String),
    /// Kept as written; only checked when it turns up where a value is expected.
    Num(String),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Dot,
    Other(char),
    End,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Token {
    pub(super) tok: Tok,
    /// Character offset of the first character.
    pub(super) pos: usize,
    /// The source text, for error messages.
    pub(super) raw: String,
}

impl Token {
    /// How the token is named in "found ..." parts of error messages.
    pub(super) fn describe(&self) -> String {
        match &self.tok {
            Tok::End => "end of input".to_string(),
            Tok::Str(_) => format!("the string {}", shorten(&self.raw)),
            _ => format!("\"{}\"", shorten(&self.raw)),
        }
    }

    fn is_word(&self, keyword: &str) -> bool {
        matches!(&self.tok, Tok::Word(w) if w.eq_ignore_ascii_case(keyword))
    }
}

/// Keeps messages readable when the offending token is a huge literal.
fn shorten(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let head: String = s.chars().take(MAX).collect();
        format!("{head}...")
    }
}

pub(super) const OPERATOR_LIST: &str = "eq, ne, co, sw, ew, gt, ge, lt, le, pr";

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Word characters cover ATTRNAME, the '.' of a sub-attribute and the ':' and '.'
/// of schema URNs such as `urn:...:2.0:User:name.givenName`, so a whole attrPath
/// is one token and is split afterwards.
fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.' | '$')
}

/// A number is scanned greedily over anything that could belong to it, so that
/// `12abc` is reported as one bad number instead of a number and a stray word.
fn is_number_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-' | '_')
}

pub(super) fn check_length(input: &str, limits: &FilterLimits) -> Result<(), FilterError> {
    // Byte length bounds the character count from above, so most inputs skip the count.
    if input.len() > limits.max_length {
        let count = input.chars().count();
        if count > limits.max_length {
            return Err(FilterError::new(
                limits.max_length,
                format!(
                    "input is {count} characters long, which exceeds the limit of {} characters",
                    limits.max_length
                ),
            ));
        }
    }
    Ok(())
}

pub(super) fn lex(input: &str) -> Result<Vec<Token>, FilterError> {
    let chars: Vec<char> = input.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        if is_space(c) {
            i += 1;
            continue;
        }
        let (tok, end) = lex_token(&chars, i, c)?;
        tokens.push(Token {
            tok,
            pos: i,
            raw: chars.get(i..end).unwrap_or_default().iter().collect(),
        });
        i = end;
    }
    tokens.push(Token {
        tok: Tok::End,
        pos: chars.len(),
        raw: String::new(),
    });
    Ok(tokens)
}

/// The token that starts with `c` at `start`, and the index just past it.
fn lex_token(chars: &[char], start: usize, c: char) -> Result<(Tok, usize), FilterError> {
    let text = |end: usize| chars.get(start..end).unwrap_or_default().iter().collect();
    let run_end = |from: usize, more: fn(char) -> bool| {
        from + chars
            .get(from..)
            .unwrap_or_default()
            .iter()
            .take_while(|&&c| more(c))
            .count()
    };
    let single = |tok: Tok| Ok((tok, start + 1));
    match c {
        '(' => single(Tok::LParen),
        ')' => single(Tok::RParen),
        '[' => single(Tok::LBracket),
        ']' => single(Tok::RBracket),
        '.' => single(Tok::Dot),
        '"' => lex_string(chars, start).map(|(s, end)| (Tok::Str(s), end)),
        c if c.is_ascii_alphabetic() || c == '$' => {
            let end = run_end(start, is_word_char);
            Ok((Tok::Word(text(end)), end))
        }
        c if c.is_ascii_digit() || c == '-' => {
            let end = run_end(start + 1, is_number_char);
            Ok((Tok::Num(text(end)), end))
        }
        other => single(Tok::Other(other)),
    }
}

/// Reads a JSON string starting at the opening quote; returns the decoded text and
/// the index just past the closing quote.
fn lex_string(chars: &[char], start: usize) -> Result<(String, usize), FilterError> {
    let unterminated = || {
        FilterError::new(
            start,
            "unterminated string: the '\"' that opens it has no closing '\"'",
        )
    };
    let mut out = String::new();
    let mut i = start + 1;
    loop {
        match *chars.get(i).ok_or_else(unterminated)? {
            '"' => return Ok((out, i + 1)),
            '\\' => {
                let e = *chars.get(i + 1).ok_or_else(unterminated)?;
                let (decoded, next) = lex_escape(chars, i, e)?;
                out.push(decoded);
                i = next;
            }
            c if u32::from(c) < 0x20 => {
                return Err(FilterError::new(
                    i,
                    format!(
                        "control character U+{:04X} must be escaped inside a string (e.g. \\n or \\u{:04x})",
                        u32::from(c),
                        u32::from(c)
                    ),
                ));
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
}

/// Decodes the escape `\\e` at `i` (the backslash); returns the character and the index
/// just past the escape.
fn lex_escape(chars: &[char], i: usize, e: char) -> Result<(char, usize), FilterError> {
    let simple = match e {
        '"' => '"',
        '\\' => '\\',
        '/' => '/',
        'b' => '\u{08}',
        'f' => '\u{0C}',
        'n' => '\n',
        'r' => '\r',
        't' => '\t',
        'u' => return lex_unicode_escape(chars, i),
        _ => {
            return Err(FilterError::new(
                i,
                format!(
                    "invalid escape \"\\{e}\" in string; expected one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX"
                ),
            ))
        }
    };
    Ok((simple, i + 2))
}

fn hex4(chars: &[char], at: usize) -> Option<u32> {
    let digits = chars.get(at..at + 4)?;
    digits
        .iter()
        .try_fold(0u32, |acc, c| Some(acc * 16 + c.to_digit(16)?))
}

/// Decodes `\uXXXX` at `i` (the backslash), joining UTF-16 surrogate pairs.
fn lex_unicode_escape(chars: &[char], i: usize) -> Result<(char, usize), FilterError> {
    let bad_hex = || {
        FilterError::new(
            i,
            "invalid \\u escape in string; expected \\u followed by 4 hex digits",
        )
    };
    let unit = hex4(chars, i + 2).ok_or_else(bad_hex)?;
    let after = i + 6;
    if (0xDC00..0xE000).contains(&unit) {
        return Err(FilterError::new(
            i,
            format!("invalid \\u{unit:04x} escape in string: a low surrogate must follow a high surrogate"),
        ));
    }
    if (0xD800..0xDC00).contains(&unit) {
        let low = if chars.get(after) == Some(&'\\') && chars.get(after + 1) == Some(&'u') {
            hex4(chars, after + 2)
        } else {
            None
        };
        let Some(low) = low.filter(|l| (0xDC00..0xE000).contains(l)) else {
            return Err(FilterError::new(
                i,
                format!("invalid \\u{unit:04x} escape in string: a high surrogate must be followed by a \\u escape of a low surrogate"),
            ));
        };
        let code = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
        let c = char::from_u32(code).ok_or_else(bad_hex)?;
        return Ok((c, after + 6));
    }
    let c = char::from_u32(unit).ok_or_else(bad_hex)?;
    Ok((c, after))
}

/// Checks JSON number syntax (RFC 8259 §6) so that `01`, `1.` or `.5` get a clear
/// message rather than being silently reinterpreted.
fn is_json_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let digits_from = |mut j: usize| {
        while b.get(j).is_some_and(u8::is_ascii_digit) {
            j += 1;
        }
        j
    };
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i = digits_from(i),
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        let end = digits_from(i + 1);
        if end == i + 1 {
            return false;
        }
        i = end;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let end = digits_from(i);
        if end == i {
            return false;
        }
        i = end;
    }
    i == b.len()
}

/// Integers stay exact when they fit 64 bits; everything else becomes an f64
/// parsed by the standard library (correctly rounded, so Display round-trips).
pub(super) fn parse_number(s: &str) -> Option<serde_json::Number> {
    if !is_json_number(s) {
        return None;
    }
    let integral = !s.contains(['.', 'e', 'E']);
    if integral {
        if let Ok(u) = s.parse::<u64>() {
            return Some(u.into());
        }
        if let Ok(i) = s.parse::<i64>() {
            return Some(i.into());
        }
    }
    s.parse::<f64>().ok().and_then(serde_json::Number::from_f64)
}

/// Where attribute names are being read: at the top level, or inside the value
/// filter of an attribute, where names are that attribute's sub-attributes.
#[derive(Clone, Copy)]
pub(super) enum Scope<'p> {
    Top,
    Inside(&'p AttrPath),
}

/// `attr[filter]` with the optional `.sub` that may follow it.
pub(super) struct Bracketed {
    pub(super) path: AttrPath,
    pub(super) filter: Filter,
    /// The sub-attribute name and the token it came from (for messages).
    pub(super) sub: Option<(String, Token)>,
}

/// Most attribute expressions one filter (or PATCH path) may hold. A chain `a or b or ...` is a
/// tree as deep as it is long, and everything that walks or drops it pays that depth: 100,000
/// terms overflowed the stack dropping it, and SQLite refuses the SQL of ~480 (its expression
/// depth limit is 1,000), which was a 500. 4,096 characters (the default `filter_max_length`)
/// hold at most ~455 of the shortest (`id pr`), so only a raised length limit meets this one.
pub const MAX_TERMS: usize = 400;

pub(super) struct Parser<'a> {
    tokens: Vec<Token>,
    next: usize,
    end: Token,
    limits: &'a FilterLimits,
    /// Attribute expressions parsed so far, against `MAX_TERMS`.
    terms: usize,
}

impl<'a> Parser<'a> {
    pub(super) fn new(tokens: Vec<Token>, limits: &'a FilterLimits) -> Self {
        let end = tokens.last().cloned().unwrap_or(Token {
            tok: Tok::End,
            pos: 0,
            raw: String::new(),
        });
        Self {
            tokens,
            next: 0,
            end,
            limits,
            terms: 0,
        }
    }

    pub(super) fn peek(&self) -> &Token {
        self.tokens.get(self.next).unwrap_or(&self.end)
    }

    fn peek_second(&self) -> &Token {
        self.tokens.get(self.next + 1).unwrap_or(&self.end)
    }

    pub(super) fn bump(&mut self) -> Token {
        let t = self.peek().clone();
        if self.next < self.tokens.len() {
            self.next += 1;
        }
        t
    }

    fn previous_text(&self) -> Option<&str> {
        self.next
            .checked_sub(1)
            .and_then(|i| self.tokens.get(i))
            .map(|t| t.raw.as_str())
    }

    fn enter(&self, depth: usize, at: &Token) -> Result<usize, FilterError> {
        let deeper = depth + 1;
        if deeper > self.limits.max_depth {
            return Err(FilterError::new(
                at.pos,
                format!(
                    "filter is nested too deeply: more than {} levels of '(', 'not (' and '['",
                    self.limits.max_depth
                ),
            ));
        }
        Ok(deeper)
    }

    /// filter = or-chain; `and` binds tighter than `or`, both left-associative.
    pub(super) fn parse_or(
        &mut self,
        depth: usize,
        scope: Scope<'_>,
    ) -> Result<Filter, FilterError> {
        let mut lhs = self.parse_and(depth, scope)?;
        while self.peek().is_word("or") {
            self.bump();
            let rhs = self.parse_and(depth, scope)?;
            lhs = Filter::Or(Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn parse_and(&mut self, depth: usize, scope: Scope<'_>) -> Result<Filter, FilterError> {
        let mut lhs = self.parse_unary(depth, scope)?;
        while self.peek().is_word("and") {
            self.bump();
            let rhs = self.parse_unary(depth, scope)?;
            lhs = Filter::And(Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn parse_unary(&mut self, depth: usize, scope: Scope<'_>) -> Result<Filter, FilterError> {
        let tok = self.peek().clone();
        match &tok.tok {
            Tok::LParen => {
                let inner_depth = self.enter(depth, &tok)?;
                self.bump();
                let inner = self.parse_or(inner_depth, scope)?;
                self.expect_close(&tok, Tok::RParen)?;
                Ok(inner)
            }
            Tok::Word(w)
                if w.eq_ignore_ascii_case("not") && self.peek_second().tok == Tok::LParen =>
            {
                let inner_depth = self.enter(depth, &tok)?;
                self.bump();
                let open = self.bump();
                let inner = self.parse_or(inner_depth, scope)?;
                self.expect_close(&open, Tok::RParen)?;
                Ok(Filter::Not(Box::new(inner)))
            }
            Tok::Word(w) if w.eq_ignore_ascii_case("not") && !self.second_continues_attr_exp() => {
                let found = self.peek_second().describe();
                Err(FilterError::new(
                    self.peek_second().pos,
                    format!("expected \"(\" after \"not\" (negation is written not (filter)), found {found}"),
                ))
            }
            Tok::Word(_) => self.parse_attr_exp(depth, scope),
            _ => {
                let after = match self.previous_text() {
                    Some(p) => format!(" after \"{}\"", shorten(p)),
                    None => String::new(),
                };
                Err(FilterError::new(
                    tok.pos,
                    format!(
                        "expected an attribute path, \"(\" or \"not (\"{after}, found {}",
                        tok.describe()
                    ),
                ))
            }
        }
    }

    /// Whether a leading `not` is an attribute that happens to be called "not"
    /// rather than a negation missing its parenthesis: keywords are not reserved.
    fn second_continues_attr_exp(&self) -> bool {
        let second = self.peek_second();
        match &second.tok {
            Tok::LBracket => true,
            Tok::Word(w) => w.eq_ignore_ascii_case("pr") || CompareOp::from_keyword(w).is_some(),
            _ => false,
        }
    }

    fn expect_close(&mut self, open: &Token, close: Tok) -> Result<(), FilterError> {
        let (open_ch, close_ch, what) = if close == Tok::RParen {
            ("(", ")", "parentheses")
        } else {
            ("[", "]", "brackets")
        };
        let found = self.peek().clone();
        if found.tok == close {
            self.bump();
            return Ok(());
        }
        if found.tok == Tok::End {
            return Err(FilterError::new(
                found.pos,
                format!(
                    "unbalanced {what}: the \"{open_ch}\" at position {} is never closed; expected \"{close_ch}\", found end of input",
                    open.pos
                ),
            ));
        }
        Err(FilterError::new(
            found.pos,
            format!(
                "expected \"and\", \"or\" or \"{close_ch}\" to close the \"{open_ch}\" at position {}, found {}",
                open.pos,
                found.describe()
            ),
        ))
    }

    /// attrExp / valuePath, plus the `attr[filter].sub op value` form that PATCH
    /// paths use and that some clients (Entra ID) also send in filters.
    fn parse_attr_exp(&mut self, depth: usize, scope: Scope<'_>) -> Result<Filter, FilterError> {
        self.terms += 1;
        if self.terms > MAX_TERMS {
            return Err(FilterError::new(
                self.peek().pos,
                format!(
                    "filter has more than {MAX_TERMS} attribute expressions; split it into \
                     several requests"
                ),
            ));
        }
        let word_tok = self.bump();
        let Tok::Word(word) = &word_tok.tok else {
            return Err(FilterError::new(
                word_tok.pos,
                format!("expected an attribute path, found {}", word_tok.describe()),
            ));
        };
        let path = attr_path_from_word(word, word_tok.pos)?;
        if let Scope::Inside(outer) = scope {
            if path.urn.is_some() || path.sub.is_some() {
                return Err(FilterError::new(
                    word_tok.pos,
                    format!(
                        "inside the value filter of \"{outer}\", attribute names are sub-attributes of \"{outer}\" and are written without a schema URI or \".\"; found \"{}\"",
                        shorten(word)
                    ),
                ));
            }
        }
        if self.peek().tok != Tok::LBracket {
            return self.parse_comparison(path, word);
        }
        let Bracketed { path, filter, sub } = self.parse_bracket(path, &word_tok, depth, scope)?;
        let Some((sub_name, sub_tok)) = sub else {
            return Ok(Filter::ValuePath {
                path,
                filter: Box::new(filter),
            });
        };
        // `emails[type eq "work"].value eq "x"` restricts the comparison to the
        // selected elements, which is exactly `emails[type eq "work" and value eq "x"]`.
        let tail = self.parse_comparison(AttrPath::simple(sub_name), &sub_tok.raw)?;
        Ok(Filter::ValuePath {
            path,
            filter: Box::new(Filter::And(Box::new(filter), Box::new(tail))),
        })
    }

    /// Parses `"[" valFilter "]" ["." subAttr]` after `path`; the next token must be "[".
    pub(super) fn parse_bracket(
        &mut self,
        path: AttrPath,
        word_tok: &Token,
        depth: usize,
        scope: Scope<'_>,
    ) -> Result<Bracketed, FilterError> {
        let open = self.peek().clone();
        bracket_allowed(&path, word_tok, &open, scope)?;
        let inner_depth = self.enter(depth, &open)?;
        self.bump();
        if self.peek().tok == Tok::RBracket {
            return Err(FilterError::new(
                self.peek().pos,
                format!("empty value filter: expected a filter on the sub-attributes of \"{path}\" between \"[\" and \"]\""),
            ));
        }
        let filter = self.parse_or(inner_depth, Scope::Inside(&path))?;
        self.expect_close(&open, Tok::RBracket)?;
        if self.peek().tok != Tok::Dot {
            return Ok(Bracketed {
                path,
                filter,
                sub: None,
            });
        }
        let sub = self.parse_bracket_sub(&path)?;
        Ok(Bracketed {
            path,
            filter,
            sub: Some(sub),
        })
    }

    /// The `subAttr` after `"]" "."`, the "." being next.
    fn parse_bracket_sub(&mut self, path: &AttrPath) -> Result<(String, Token), FilterError> {
        let dot = self.bump();
        let sub_tok = self.bump();
        let Tok::Word(w) = &sub_tok.tok else {
            return Err(FilterError::new(
                sub_tok.pos,
                format!(
                    "expected a sub-attribute name of \"{path}\" after the \".\" at position {}, found {}",
                    dot.pos,
                    sub_tok.describe()
                ),
            ));
        };
        let parsed = attr_path_from_word(w, sub_tok.pos)?;
        if parsed.urn.is_some() || parsed.sub.is_some() {
            return Err(FilterError::new(
                sub_tok.pos,
                format!(
                    "expected a sub-attribute name of \"{path}\" after \"].\", found \"{}\"",
                    shorten(w)
                ),
            ));
        }
        Ok((parsed.attr, sub_tok))
    }

    /// `attrPath "pr"` or `attrPath compareOp compValue`, the path already read.
    fn parse_comparison(&mut self, path: AttrPath, written: &str) -> Result<Filter, FilterError> {
        let tok = self.peek().clone();
        let op = match &tok.tok {
            Tok::Word(w) if w.eq_ignore_ascii_case("pr") => {
                self.bump();
                return Ok(Filter::Present(path));
            }
            Tok::Word(w) => CompareOp::from_keyword(w),
            _ => None,
        };
        let Some(op) = op else {
            return Err(FilterError::new(
                tok.pos,
                format!(
                    "expected a comparison operator ({OPERATOR_LIST}) after \"{}\", found {}",
                    shorten(written),
                    tok.describe()
                ),
            ));
        };
        self.bump();
        let value = self.parse_value(op)?;
        Ok(Filter::Compare { path, op, value })
    }

    fn parse_value(&mut self, op: CompareOp) -> Result<CompValue, FilterError> {
        let tok = self.bump();
        let expected = format!(
            "expected a value (a \"string\", a number, true, false or null) after \"{op}\""
        );
        match &tok.tok {
            Tok::Str(s) => Ok(CompValue::String(s.clone())),
            Tok::Num(n) => parse_number(n).map(CompValue::Number).ok_or_else(|| {
                FilterError::new(
                    tok.pos,
                    format!(
                        "invalid number \"{}\": expected a JSON number such as 42, -1.5 or 2e10",
                        shorten(n)
                    ),
                )
            }),
            Tok::Word(w) if w.eq_ignore_ascii_case("true") => Ok(CompValue::Bool(true)),
            Tok::Word(w) if w.eq_ignore_ascii_case("false") => Ok(CompValue::Bool(false)),
            Tok::Word(w) if w.eq_ignore_ascii_case("null") => Ok(CompValue::Null),
            Tok::Word(_) => Err(FilterError::new(
                tok.pos,
                format!(
                    "{expected}, found {}; string values must be in double quotes",
                    tok.describe()
                ),
            )),
            Tok::Other('\'') => Err(FilterError::new(
                tok.pos,
                format!("{expected}, found \"'\"; strings use double quotes, not single quotes"),
            )),
            _ => Err(FilterError::new(
                tok.pos,
                format!("{expected}, found {}", tok.describe()),
            )),
        }
    }

    /// Fails unless everything was consumed, naming what was left over.
    pub(super) fn expect_end(&self, what: &str) -> Result<(), FilterError> {
        let tok = self.peek();
        let message = match &tok.tok {
            Tok::End => return Ok(()),
            Tok::RParen => "unbalanced parentheses: \")\" has no matching \"(\"".to_string(),
            Tok::RBracket => "unbalanced brackets: \"]\" has no matching \"[\"".to_string(),
            _ => format!(
                "unexpected {} after the end of a complete {what}; expected {}",
                tok.describe(),
                if what == "filter" {
                    "\"and\", \"or\" or end of input"
                } else {
                    "end of input"
                }
            ),
        };
        Err(FilterError::new(tok.pos, message))
    }
}

/// Parses a SCIM filter (the `filter` query parameter or a `/.search` body).
/// A value filter may open only after a plain attribute name, outside any other value filter.
fn bracket_allowed(
    path: &AttrPath,
    word_tok: &Token,
    open: &Token,
    scope: Scope<'_>,
) -> Result<(), FilterError> {
    if let Scope::Inside(outer) = scope {
        return Err(FilterError::new(
            open.pos,
            format!(
                "nested \"[\" is not allowed: the value filter of \"{outer}\" cannot contain another value filter"
            ),
        ));
    }
    if path.sub.is_some() {
        return Err(FilterError::new(
            open.pos,
            format!(
                "a value filter \"[...]\" must follow an attribute name without a sub-attribute; found \"{}[\"",
                shorten(&word_tok.raw)
            ),
        ));
    }
    Ok(())
}

pub fn parse_filter(input: &str, limits: &FilterLimits) -> Result<Filter, FilterError> {
    check_length(input, limits)?;
    let tokens = lex(input)?;
    let mut parser = Parser::new(tokens, limits);
    if parser.peek().tok == Tok::End {
        return Err(FilterError::new(
            parser.peek().pos,
            "empty filter: expected an expression such as userName eq \"bjensen\"",
        ));
    }
    let filter = parser.parse_or(0, Scope::Top)?;
    parser.expect_end("filter")?;
    Ok(filter)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: &str) -> Filter {
        match parse_filter(input, &FilterLimits::default()) {
            Ok(f) => f,
            Err(e) => panic!("{input:?} failed: {e}"),
        }
    }

    fn error(input: &str) -> FilterError {
        match parse_filter(input, &FilterLimits::default()) {
            Ok(f) => panic!("{input:?} parsed as {f:?}"),
            Err(e) => e,
        }
    }

    fn attr(name: &str) -> AttrPath {
        AttrPath::simple(name)
    }

    fn pr(name: &str) -> Filter {
        Filter::Present(attr(name))
    }

    fn eq(name: &str, value: &str) -> Filter {
        Filter::Compare {
            path: attr(name),
            op: CompareOp::Eq,
            value: CompValue::String(value.to_string()),
        }
    }

    fn and(l: Filter, r: Filter) -> Filter {
        Filter::And(Box::new(l), Box::new(r))
    }

    fn or(l: Filter, r: Filter) -> Filter {
        Filter::Or(Box::new(l), Box::new(r))
    }

    fn not(f: Filter) -> Filter {
        Filter::Not(Box::new(f))
    }

    fn number(input: &str) -> CompValue {
        match parse(&format!("x eq {input}")) {
            Filter::Compare { value, .. } => value,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn simple_comparison() {
        assert_eq!(parse(r#"userName eq "bjensen""#), eq("userName", "bjensen"));
    }

    #[test]
    fn every_operator_in_any_case() {
        for op in CompareOp::ALL {
            for spelled in [op.as_str().to_string(), op.as_str().to_uppercase(), {
                let mut s = op.as_str().to_string();
                s.replace_range(0..1, &s[0..1].to_uppercase());
                s
            }] {
                let f = parse(&format!("title {spelled} \"x\""));
                assert_eq!(
                    f,
                    Filter::Compare {
                        path: attr("title"),
                        op,
                        value: CompValue::String("x".into())
                    }
                );
            }
        }
        assert_eq!(parse("title PR"), pr("title"));
        assert_eq!(parse("title Pr"), pr("title"));
    }

    #[test]
    fn logical_keywords_are_case_insensitive() {
        assert_eq!(
            parse("a PR AND b pr Or NOT (c pr)"),
            or(and(pr("a"), pr("b")), not(pr("c")))
        );
    }

    #[test]
    fn and_binds_tighter_than_or() {
        assert_eq!(
            parse("a pr or b pr and c pr"),
            or(pr("a"), and(pr("b"), pr("c")))
        );
        assert_eq!(
            parse("a pr and b pr or c pr"),
            or(and(pr("a"), pr("b")), pr("c"))
        );
        assert_eq!(
            parse("a pr or b pr and c pr or d pr"),
            or(or(pr("a"), and(pr("b"), pr("c"))), pr("d"))
        );
    }

    #[test]
    fn chains_are_left_associative() {
        assert_eq!(
            parse("a pr and b pr and c pr"),
            and(and(pr("a"), pr("b")), pr("c"))
        );
        assert_eq!(
            parse("a pr or b pr or c pr"),
            or(or(pr("a"), pr("b")), pr("c"))
        );
    }

    #[test]
    fn not_binds_tighter_than_and() {
        assert_eq!(parse("not (a pr) and b pr"), and(not(pr("a")), pr("b")));
        assert_eq!(parse("b pr or not(a pr)"), or(pr("b"), not(pr("a"))));
    }

    #[test]
    fn parentheses_override_precedence() {
        assert_eq!(
            parse("(a pr or b pr) and c pr"),
            and(or(pr("a"), pr("b")), pr("c"))
        );
        assert_eq!(
            parse("a pr and (b pr and c pr)"),
            and(pr("a"), and(pr("b"), pr("c")))
        );
        assert_eq!(parse("((((a pr))))"), pr("a"));
    }

    #[test]
    fn rfc_examples_parse() {
        let examples = [
            r#"userName eq "bjensen""#,
            r#"name.familyName co "O'Malley""#,
            r#"userName sw "J""#,
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
            "title pr",
            r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
            r#"meta.lastModified ge "2011-05-13T04:42:34Z""#,
            r#"meta.lastModified lt "2011-05-13T04:42:34Z""#,
            r#"meta.lastModified le "2011-05-13T04:42:34Z""#,
            r#"title pr and userType eq "Employee""#,
            r#"title pr or userType eq "Intern""#,
            r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
            r#"userType eq "Employee" and (emails.type eq "work")"#,
            r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
            r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
        ];
        for e in examples {
            parse(e);
        }
    }

    #[test]
    fn literals() {
        assert_eq!(number("true"), CompValue::Bool(true));
        assert_eq!(number("FALSE"), CompValue::Bool(false));
        assert_eq!(number("Null"), CompValue::Null);
        assert_eq!(number("0"), CompValue::Number(0u64.into()));
        assert_eq!(number("-17"), CompValue::Number((-17i64).into()));
        assert_eq!(
            number("18446744073709551615"),
            CompValue::Number(u64::MAX.into())
        );
        assert_eq!(
            number("-9223372036854775808"),
            CompValue::Number(i64::MIN.into())
        );
        let float = |f: f64| serde_json::Number::from_f64(f).map(CompValue::Number);
        assert_eq!(Some(number("1.5")), float(1.5));
        assert_eq!(Some(number("-2.5E-3")), float(-0.0025));
        assert_eq!(Some(number("1e+3")), float(1000.0));
        assert_eq!(Some(number("99999999999999999999")), float(1e20));
    }

    #[test]
    fn invalid_numbers() {
        for bad in [
            "01", "1.", "1e", "1e+", "--1", "-", "12abc", "1.2.3", "1e400", "0x10",
        ] {
            let e = error(&format!("x eq {bad}"));
            assert_eq!(e.position, 5, "{bad}");
            assert_eq!(
                e.message,
                format!(
                    "invalid number \"{bad}\": expected a JSON number such as 42, -1.5 or 2e10"
                )
            );
        }
    }

    #[test]
    fn string_escapes() {
        let f = parse(r#"x eq "q\" b\\ s\/ \b\f\n\r\t \u00e9 \ud83d\ude00""#);
        assert_eq!(
            f,
            Filter::Compare {
                path: attr("x"),
                op: CompareOp::Eq,
                value: CompValue::String("q\" b\\ s/ \u{8}\u{c}\n\r\t é 😀".into())
            }
        );
    }

    #[test]
    fn bad_string_escapes() {
        let e = error(r#"x eq "a\qb""#);
        assert_eq!(e.position, 7);
        assert!(
            e.message.starts_with("invalid escape \"\\q\" in string"),
            "{e}"
        );
        let e = error(r#"x eq "\u12g4""#);
        assert_eq!(
            e.message,
            "invalid \\u escape in string; expected \\u followed by 4 hex digits"
        );
        let e = error(r#"x eq "\ud800x""#);
        assert!(e.message.contains("high surrogate must be followed"), "{e}");
        let e = error(r#"x eq "\udc00""#);
        assert!(e.message.contains("low surrogate must follow"), "{e}");
        let e = error("x eq \"a\nb\"");
        assert_eq!(e.position, 7);
        assert!(
            e.message
                .starts_with("control character U+000A must be escaped"),
            "{e}"
        );
    }

    #[test]
    fn unterminated_string() {
        for input in [
            r#"userName eq "bjensen"#,
            r#"userName eq "bjensen\"#,
            r#"userName eq "x\""#,
        ] {
            let e = error(input);
            assert_eq!(e.position, 12, "{input}");
            assert_eq!(
                e.message,
                "unterminated string: the '\"' that opens it has no closing '\"'"
            );
        }
    }

    #[test]
    fn urn_qualified_paths() {
        assert_eq!(
            parse(
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "x""#
            ),
            Filter::Compare {
                path: AttrPath {
                    urn: Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User".into()),
                    attr: "manager".into(),
                    sub: Some("value".into()),
                },
                op: CompareOp::Eq,
                value: CompValue::String("x".into()),
            }
        );
        assert_eq!(
            parse("urn:ietf:params:scim:schemas:core:2.0:User:userName pr"),
            Filter::Present(AttrPath {
                urn: Some("urn:ietf:params:scim:schemas:core:2.0:User".into()),
                attr: "userName".into(),
                sub: None,
            })
        );
    }

    #[test]
    fn names_keep_their_spelling_and_allow_ref() {
        assert_eq!(
            parse("NAME.GivenName pr"),
            Filter::Present(AttrPath {
                urn: None,
                attr: "NAME".into(),
                sub: Some("GivenName".into())
            })
        );
        assert_eq!(
            parse("groups.$ref pr"),
            Filter::Present(AttrPath {
                urn: None,
                attr: "groups".into(),
                sub: Some("$ref".into())
            })
        );
        assert_eq!(parse("x-y_z9 pr"), pr("x-y_z9"));
    }

    #[test]
    fn invalid_names() {
        let e = error("a.b.c pr");
        assert_eq!(
            (e.position, e.message.as_str()),
            (
                2,
                "attribute paths have at most one sub-attribute, found \"a.b.c\""
            )
        );
        let e = error("urn:x: pr");
        assert_eq!(e.position, 6);
        assert_eq!(
            e.message,
            "expected an attribute name after the schema URI \"urn:x:\""
        );
        let e = error("a$b pr");
        assert_eq!(
            e.message,
            "invalid attribute name \"a$b\": names start with a letter and contain only letters, digits, \"-\" and \"_\""
        );
        let e = error("name.-x pr");
        assert_eq!(e.position, 5);
        assert!(
            e.message.starts_with("invalid sub-attribute name \"-x\""),
            "{e}"
        );
        let e = error("name. pr");
        assert_eq!(e.message, "expected a sub-attribute name after \"name.\"");
        let e = error("urn::x:y pr");
        assert!(e.message.contains("empty segment"), "{e}");
        let e = error("1abc pr");
        assert_eq!(
            e.message,
            "expected an attribute path, \"(\" or \"not (\", found \"1abc\""
        );
    }

    #[test]
    fn value_path() {
        assert_eq!(
            parse(r#"emails[type eq "work" and value co "@example.com"]"#),
            Filter::ValuePath {
                path: attr("emails"),
                filter: Box::new(and(
                    eq("type", "work"),
                    Filter::Compare {
                        path: attr("value"),
                        op: CompareOp::Co,
                        value: CompValue::String("@example.com".into())
                    }
                ))
            }
        );
        assert_eq!(
            parse(r#"emails[not (type eq "work")]"#),
            Filter::ValuePath {
                path: attr("emails"),
                filter: Box::new(not(eq("type", "work")))
            }
        );
        assert_eq!(
            parse(r#"members[$ref eq "x"]"#),
            Filter::ValuePath {
                path: attr("members"),
                filter: Box::new(eq("$ref", "x"))
            }
        );
    }

    #[test]
    fn value_path_with_sub_attribute_merges_into_the_value_filter() {
        assert_eq!(
            parse(r#"emails[type eq "work"].value eq "x""#),
            Filter::ValuePath {
                path: attr("emails"),
                filter: Box::new(and(eq("type", "work"), eq("value", "x")))
            }
        );
        assert_eq!(
            parse(r#"emails[type eq "work" or type eq "home"].value pr and userName pr"#),
            and(
                Filter::ValuePath {
                    path: attr("emails"),
                    filter: Box::new(and(or(eq("type", "work"), eq("type", "home")), pr("value")))
                },
                pr("userName")
            )
        );
    }

    #[test]
    fn value_path_errors() {
        let e = error(r#"emails[type[x pr] pr]"#);
        assert_eq!(e.position, 11);
        assert_eq!(
            e.message,
            "nested \"[\" is not allowed: the value filter of \"emails\" cannot contain another value filter"
        );
        let e = error(r#"emails[emails.type eq "work"]"#);
        assert_eq!(e.position, 7);
        assert!(
            e.message
                .starts_with("inside the value filter of \"emails\""),
            "{e}"
        );
        let e = error(r#"name.givenName[x pr]"#);
        assert_eq!(e.position, 14);
        assert!(
            e.message
                .starts_with("a value filter \"[...]\" must follow an attribute name"),
            "{e}"
        );
        let e = error("emails[]");
        assert_eq!(e.position, 7);
        assert!(e.message.starts_with("empty value filter"), "{e}");
        let e = error(r#"emails[type eq "work"]."#);
        assert_eq!(e.position, 23);
        assert!(
            e.message
                .contains("after the \".\" at position 22, found end of input"),
            "{e}"
        );
        let e = error(r#"emails[type eq "work"].value"#);
        assert_eq!(e.position, 28);
        assert!(
            e.message.starts_with("expected a comparison operator"),
            "{e}"
        );
    }

    #[test]
    fn documented_error_format() {
        let e = error(r#"title pr and userName eqq "x""#);
        assert_eq!(
            e.to_string(),
            "at position 22: expected a comparison operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr) after \"userName\", found \"eqq\""
        );
        let e = error("userName");
        assert_eq!(
            e.to_string(),
            "at position 8: expected a comparison operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr) after \"userName\", found end of input"
        );
        let e = error(r#"userName = "x""#);
        assert!(
            e.message.ends_with("after \"userName\", found \"=\""),
            "{e}"
        );
    }

    #[test]
    fn positions_count_characters_not_bytes() {
        let e = error(r#"displayName eq "héllo wörld" and x eqq 1"#);
        assert_eq!(e.position, 35);
    }

    #[test]
    fn unbalanced_parentheses_and_brackets() {
        let e = error("(a pr");
        assert_eq!(
            e.to_string(),
            "at position 5: unbalanced parentheses: the \"(\" at position 0 is never closed; expected \")\", found end of input"
        );
        let e = error("a pr)");
        assert_eq!(
            e.to_string(),
            "at position 4: unbalanced parentheses: \")\" has no matching \"(\""
        );
        let e = error(r#"emails[type eq "work""#);
        assert_eq!(
            e.to_string(),
            "at position 21: unbalanced brackets: the \"[\" at position 6 is never closed; expected \"]\", found end of input"
        );
        let e = error(r#"emails[type eq "work")"#);
        assert_eq!(
            e.to_string(),
            "at position 21: expected \"and\", \"or\" or \"]\" to close the \"[\" at position 6, found \")\""
        );
        let e = error("a pr]");
        assert_eq!(
            e.message,
            "unbalanced brackets: \"]\" has no matching \"[\""
        );
        let e = error("(a pr b pr)");
        assert_eq!(
            e.message,
            "expected \"and\", \"or\" or \")\" to close the \"(\" at position 0, found \"b\""
        );
    }

    #[test]
    fn trailing_input() {
        let e = error("a pr b pr");
        assert_eq!(
            e.to_string(),
            "at position 5: unexpected \"b\" after the end of a complete filter; expected \"and\", \"or\" or end of input"
        );
        let e = error(r#"a pr "x""#);
        assert!(e.message.starts_with("unexpected the string \"x\""), "{e}");
    }

    #[test]
    fn empty_filter() {
        for input in ["", "   ", "\t\n"] {
            let e = error(input);
            assert_eq!(
                e.message,
                "empty filter: expected an expression such as userName eq \"bjensen\""
            );
        }
        let e = error("a pr and");
        assert_eq!(
            e.message,
            "expected an attribute path, \"(\" or \"not (\" after \"and\", found end of input"
        );
        let e = error("()");
        assert_eq!(e.position, 1);
    }

    #[test]
    fn not_requires_parentheses_but_is_not_reserved() {
        let e = error("not a pr");
        assert_eq!(
            e.to_string(),
            "at position 4: expected \"(\" after \"not\" (negation is written not (filter)), found \"a\""
        );
        assert_eq!(parse("not pr"), pr("not"));
        assert_eq!(parse(r#"not eq "x""#), eq("not", "x"));
        assert_eq!(parse("and pr and or pr"), and(pr("and"), pr("or")));
        assert_eq!(parse(r#"pr eq "x""#), eq("pr", "x"));
    }

    #[test]
    fn unquoted_or_single_quoted_values() {
        let e = error("userName eq bjensen");
        assert_eq!(
            e.message,
            "expected a value (a \"string\", a number, true, false or null) after \"eq\", found \"bjensen\"; string values must be in double quotes"
        );
        let e = error("userName eq 'bjensen'");
        assert!(
            e.message
                .ends_with("strings use double quotes, not single quotes"),
            "{e}"
        );
        let e = error("userName eq");
        assert!(
            e.message.ends_with("after \"eq\", found end of input"),
            "{e}"
        );
    }

    #[test]
    fn whitespace_is_flexible() {
        assert_eq!(parse("\tuserName  eq\n\"x\"  "), eq("userName", "x"));
        assert_eq!(parse(r#"userName eq"x""#), eq("userName", "x"));
        assert_eq!(parse("(a pr)and(b pr)"), and(pr("a"), pr("b")));
    }

    #[test]
    fn length_limit() {
        let limits = FilterLimits {
            max_length: 10,
            max_depth: 32,
        };
        assert!(parse_filter("abcdef pr", &limits).is_ok());
        let e = parse_filter("abcdefgh pr", &limits).unwrap_err();
        assert_eq!(e.position, 10);
        assert_eq!(
            e.message,
            "input is 11 characters long, which exceeds the limit of 10 characters"
        );
        // The limit counts characters, so multi-byte text is not penalised.
        assert!(parse_filter("x eq \"ééé\"", &limits).is_ok());
    }

    #[test]
    fn chains_longer_than_the_term_limit_are_refused_with_a_message() {
        let limits = FilterLimits {
            max_length: 1_000_000,
            max_depth: 32,
        };
        let at_limit = vec!["id pr"; MAX_TERMS].join(" or ");
        assert!(parse_filter(&at_limit, &limits).is_ok());
        let over = vec!["id pr"; MAX_TERMS + 1].join(" and ");
        let e = parse_filter(&over, &limits).unwrap_err();
        assert!(
            e.message.contains("more than 400 attribute expressions"),
            "{e}"
        );
        let inside = format!("emails[{}]", vec!["value pr"; MAX_TERMS].join(" or "));
        assert!(parse_filter(&inside, &limits).is_err());
    }

    #[test]
    fn depth_limit() {
        let limits = FilterLimits {
            max_length: 4096,
            max_depth: 3,
        };
        assert!(parse_filter("(((a pr)))", &limits).is_ok());
        assert!(parse_filter("not (not (emails[value pr]))", &limits).is_ok());
        let e = parse_filter("((((a pr))))", &limits).unwrap_err();
        assert_eq!(
            e.to_string(),
            "at position 3: filter is nested too deeply: more than 3 levels of '(', 'not (' and '['"
        );
        let e = parse_filter("not (not (not (not (a pr))))", &limits).unwrap_err();
        assert_eq!(e.position, 15);
        let e = parse_filter("((not (emails[value pr])))", &limits).unwrap_err();
        assert_eq!(e.position, 13);
        let deep = format!("{}a pr{}", "(".repeat(10_000), ")".repeat(10_000));
        let e = parse_filter(
            &deep,
            &FilterLimits {
                max_length: 100_000,
                max_depth: 32,
            },
        )
        .unwrap_err();
        assert_eq!(e.position, 32);
    }

    #[test]
    fn long_chains_are_fine() {
        let input = vec!["a pr"; MAX_TERMS].join(" and ");
        let f = parse_filter(
            &input,
            &FilterLimits {
                max_length: 10_000,
                max_depth: 32,
            },
        );
        assert!(f.is_ok());
    }
}
