//! Tidy: the workspace's size, documentation and layering rules, checked on the sources.
//!
//! Goal: the rules of STYLE.md that a reviewer would otherwise count by hand stay true as the
//! code grows: no function longer than 70 lines, no file longer than 600 lines, every source
//! file opens with a `//!` comment saying what it owns, and the files of `model/src` import
//! each other without cycles (folder nesting is the dependency direction).
//! Method: a small Rust lexer (comments, strings, chars and lifetimes skipped, so braces inside
//! them do not count) over every `.rs` file under `model/src`, `runtime/src`, `proofs/src` and
//! `tests/src`. Test code is exempt from the size rules: files named `tests.rs` or
//! `testkit.rs`, files under a `tests/` folder inside `src/`, and `#[cfg(test)] mod … { … }`
//! blocks. The checker's own functions are unit-tested below on small synthetic inputs, so the
//! check can fail; the whole-workspace check lists every offender:
//! `cargo test --release -p durakv-tests --test tidy -- --nocapture`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// TigerStyle's hard limit per function (STYLE.md §4).
const FUNCTION_LINES_MAX: usize = 70;
/// Past this a file holds more than one idea; split it into a folder of files.
const FILE_LINES_MAX: usize = 600;
/// The source folders the rules apply to, relative to the workspace root.
const SOURCE_DIRS: [&str; 4] = ["model/src", "runtime/src", "proofs/src", "tests/src"];
/// The folder whose files must not import each other in a cycle.
const LAYERED_DIR: &str = "model/src";
/// Generated tables allowed past the file limit (path relative to the workspace root). None
/// exists today; an entry here must say why the file cannot be split.
const FILE_LINES_EXEMPT: [&str; 0] = [];

#[derive(Clone, Debug, PartialEq, Eq)]
enum Kind {
    Ident(String),
    Punct(char),
    Literal,
    Lifetime,
}

#[derive(Clone, Debug)]
struct Token {
    kind: Kind,
    line: usize,
}

impl Token {
    fn is_ident(&self, name: &str) -> bool {
        matches!(&self.kind, Kind::Ident(s) if s == name)
    }

    fn is_punct(&self, c: char) -> bool {
        self.kind == Kind::Punct(c)
    }

    fn ident(&self) -> Option<&str> {
        match &self.kind {
            Kind::Ident(s) => Some(s),
            _ => None,
        }
    }
}

/// Splits Rust source into identifiers, punctuation and literals with their 1-based lines.
/// Comments vanish; string, char and number literals become one `Literal` token each.
fn lex(src: &str) -> Vec<Token> {
    let chars: Vec<char> = src.chars().collect();
    let mut lexer = Lexer {
        chars: &chars,
        at: 0,
        line: 1,
        tokens: Vec::new(),
    };
    while lexer.at < chars.len() {
        lexer.step();
    }
    lexer.tokens
}

struct Lexer<'a> {
    chars: &'a [char],
    at: usize,
    line: usize,
    tokens: Vec<Token>,
}

impl Lexer<'_> {
    fn peek(&self, ahead: usize) -> char {
        self.chars.get(self.at + ahead).copied().unwrap_or('\0')
    }

    /// Moves past `count` characters, counting the newlines among them.
    fn bump(&mut self, count: usize) {
        for _ in 0..count {
            if self.peek(0) == '\n' {
                self.line += 1;
            }
            self.at += 1;
        }
    }

    fn push(&mut self, kind: Kind, line: usize) {
        self.tokens.push(Token { kind, line });
    }

    fn step(&mut self) {
        let (c, line) = (self.peek(0), self.line);
        if c.is_whitespace() {
            self.bump(1);
        } else if c == '/' && self.peek(1) == '/' {
            while self.at < self.chars.len() && self.peek(0) != '\n' {
                self.bump(1);
            }
        } else if c == '/' && self.peek(1) == '*' {
            self.block_comment();
        } else if let Some(hashes) = self.raw_string_start() {
            self.raw_string(hashes);
            self.push(Kind::Literal, line);
        } else if c == '"' || ((c == 'b' || c == 'c') && self.peek(1) == '"') {
            self.bump(if c == '"' { 0 } else { 1 });
            self.quoted('"');
            self.push(Kind::Literal, line);
        } else if c == 'b' && self.peek(1) == '\'' {
            self.bump(1);
            self.quoted('\'');
            self.push(Kind::Literal, line);
        } else if c == '\'' {
            self.char_or_lifetime(line);
        } else if c.is_ascii_digit() {
            self.number();
            self.push(Kind::Literal, line);
        } else if c.is_alphabetic() || c == '_' {
            let word = self.word();
            self.push(Kind::Ident(word), line);
        } else {
            self.bump(1);
            self.push(Kind::Punct(c), line);
        }
    }

    fn block_comment(&mut self) {
        let mut depth = 0usize;
        loop {
            if self.at >= self.chars.len() {
                return;
            }
            if self.peek(0) == '/' && self.peek(1) == '*' {
                depth += 1;
                self.bump(2);
            } else if self.peek(0) == '*' && self.peek(1) == '/' {
                depth -= 1;
                self.bump(2);
                if depth == 0 {
                    return;
                }
            } else {
                self.bump(1);
            }
        }
    }

    /// `r"…"`, `r#"…"#`, `br"…"`, `cr#"…"#`: the number of `#`s if a raw string starts here.
    fn raw_string_start(&self) -> Option<usize> {
        let prefix = match (self.peek(0), self.peek(1)) {
            ('r', _) => 1,
            ('b' | 'c', 'r') => 2,
            _ => return None,
        };
        if self.at > 0 && is_word_char(self.chars[self.at - 1]) {
            return None;
        }
        let mut hashes = 0;
        while self.peek(prefix + hashes) == '#' {
            hashes += 1;
        }
        (self.peek(prefix + hashes) == '"').then_some(hashes)
    }

    fn raw_string(&mut self, hashes: usize) {
        while self.peek(0) != '"' {
            self.bump(1);
        }
        self.bump(1);
        loop {
            if self.at >= self.chars.len() {
                return;
            }
            let closes = self.peek(0) == '"' && (1..=hashes).all(|i| self.peek(i) == '#');
            self.bump(1);
            if closes {
                self.bump(hashes);
                return;
            }
        }
    }

    /// A literal from the opening `quote` to its closing twin, skipping escapes.
    fn quoted(&mut self, quote: char) {
        self.bump(1);
        while self.at < self.chars.len() && self.peek(0) != quote {
            self.bump(if self.peek(0) == '\\' { 2 } else { 1 });
        }
        self.bump(1);
    }

    fn char_or_lifetime(&mut self, line: usize) {
        if self.peek(1) == '\\' || self.peek(2) == '\'' {
            self.quoted('\'');
            self.push(Kind::Literal, line);
        } else {
            self.bump(1);
            self.word();
            self.push(Kind::Lifetime, line);
        }
    }

    fn number(&mut self) {
        while is_word_char(self.peek(0)) || (self.peek(0) == '.' && self.peek(1).is_ascii_digit()) {
            self.bump(1);
        }
    }

    fn word(&mut self) -> String {
        let start = self.at;
        while is_word_char(self.peek(0)) {
            self.bump(1);
        }
        self.chars[start..self.at].iter().collect()
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The index of the `}` matching the `{` at `open`.
fn matching_brace(tokens: &[Token], open: usize) -> usize {
    let mut depth = 0usize;
    for (i, token) in tokens.iter().enumerate().skip(open) {
        if token.is_punct('{') {
            depth += 1;
        } else if token.is_punct('}') {
            depth -= 1;
            if depth == 0 {
                return i;
            }
        }
    }
    tokens.len() - 1
}

/// Token index ranges (inclusive) of `#[cfg(test)] mod name { … }` blocks.
fn test_blocks(tokens: &[Token]) -> Vec<(usize, usize)> {
    let cfg_test = ["#", "[", "cfg", "(", "test", ")", "]"];
    let mut blocks = Vec::new();
    for start in 0..tokens.len() {
        let window = tokens.get(start..start + cfg_test.len());
        let matches = window.is_some_and(|w| w.iter().zip(cfg_test).all(|(t, s)| spells(t, s)));
        if !matches {
            continue;
        }
        let mut at = start + cfg_test.len();
        // Further attributes and a visibility may sit between the cfg and the `mod`.
        while at < tokens.len() && !tokens[at].is_ident("mod") && !tokens[at].is_punct(';') {
            if tokens[at].is_punct('{') {
                break;
            }
            at += 1;
        }
        if tokens.get(at).is_some_and(|t| t.is_ident("mod"))
            && tokens.get(at + 2).is_some_and(|t| t.is_punct('{'))
        {
            blocks.push((start, matching_brace(tokens, at + 2)));
        }
    }
    blocks
}

fn spells(token: &Token, text: &str) -> bool {
    match &token.kind {
        Kind::Ident(s) => s == text,
        Kind::Punct(c) => text.len() == 1 && text.starts_with(*c),
        _ => false,
    }
}

fn in_blocks(blocks: &[(usize, usize)], index: usize) -> bool {
    blocks
        .iter()
        .any(|&(start, end)| start <= index && index <= end)
}

/// Every function with a body: (name, line of `fn`, length in lines), test blocks excluded.
fn functions(tokens: &[Token]) -> Vec<(String, usize, usize)> {
    let blocks = test_blocks(tokens);
    let mut found = Vec::new();
    for i in 0..tokens.len().saturating_sub(1) {
        let Some(name) = tokens[i + 1].ident() else {
            continue;
        };
        if !tokens[i].is_ident("fn") || in_blocks(&blocks, i) {
            continue;
        }
        // The body is the first `{` outside the parameter list; a `;` first means none.
        let mut depth = 0i32;
        for j in i + 2..tokens.len() {
            match tokens[j].kind {
                Kind::Punct('(' | '[') => depth += 1,
                Kind::Punct(')' | ']') => depth -= 1,
                Kind::Punct(';') if depth == 0 => break,
                Kind::Punct('{') if depth == 0 => {
                    let close = matching_brace(tokens, j);
                    let lines = tokens[close].line - tokens[i].line + 1;
                    found.push((name.to_string(), tokens[i].line, lines));
                    break;
                }
                _ => {}
            }
        }
    }
    found
}

/// Lines of a file outside its `#[cfg(test)] mod` blocks.
fn non_test_lines(src: &str, tokens: &[Token]) -> usize {
    let test_lines: usize = test_blocks(tokens)
        .iter()
        .map(|&(start, end)| tokens[end].line - tokens[start].line + 1)
        .sum();
    src.lines().count() - test_lines
}

/// Findings of the size and documentation rules for one file (`name` is how it is reported).
fn check_file(name: &str, src: &str, test_file: bool) -> Vec<String> {
    let mut findings = Vec::new();
    let opens_with_doc = src.lines().find(|l| !l.trim().is_empty());
    if !opens_with_doc.is_some_and(|l| l.starts_with("//!")) {
        findings.push(format!("{name}: does not open with a `//!` module comment"));
    }
    if test_file {
        return findings;
    }
    let tokens = lex(src);
    for (function, line, lines) in functions(&tokens) {
        if lines > FUNCTION_LINES_MAX {
            findings.push(format!(
                "{name}:{line}: fn {function} is {lines} lines (limit {FUNCTION_LINES_MAX})"
            ));
        }
    }
    let lines = non_test_lines(src, &tokens);
    if lines > FILE_LINES_MAX && !FILE_LINES_EXEMPT.contains(&name) {
        findings.push(format!(
            "{name}: {lines} lines outside tests (limit {FILE_LINES_MAX})"
        ));
    }
    findings
}

/// Test-only files, by their path relative to their crate's `src/`.
fn is_test_file(relative: &str) -> bool {
    let mut parts: Vec<&str> = relative.split('/').collect();
    let file = parts.pop().unwrap_or_default();
    file == "tests.rs" || file == "testkit.rs" || parts.contains(&"tests")
}

/// The module path of a file relative to `src/`: `aof/mod.rs` and `aof.rs` are `aof`,
/// `lib.rs` and `main.rs` the crate root.
fn module_of(relative: &str) -> Vec<String> {
    let trimmed = relative.trim_end_matches(".rs");
    let mut path: Vec<String> = trimmed.split('/').map(str::to_string).collect();
    if matches!(
        path.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        path.pop();
    }
    path
}

/// Parses the use tree starting at `at` (after `use`), collecting each leaf's path; a glob or
/// a `self` leaf names the module it sits in. Returns the index after the tree.
fn use_tree(
    tokens: &[Token],
    mut at: usize,
    prefix: &[String],
    out: &mut Vec<Vec<String>>,
) -> usize {
    let mut path = prefix.to_vec();
    loop {
        let Some(token) = tokens.get(at) else {
            return at;
        };
        if token.is_punct(':') {
            at += 1;
        } else if token.is_punct('*') {
            out.push(path);
            return at + 1;
        } else if token.is_punct('{') {
            at += 1;
            while tokens.get(at).is_some_and(|t| !t.is_punct('}')) {
                at = use_tree(tokens, at, &path, out);
                if tokens.get(at).is_some_and(|t| t.is_punct(',')) {
                    at += 1;
                }
            }
            return at + 1;
        } else if let Some(segment) = token.ident() {
            // `self` inside braces names the module the braces sit in.
            if segment != "self" || path.is_empty() {
                path.push(segment.to_string());
            }
            at += 1;
            let continues = tokens.get(at).is_some_and(|t| t.is_punct(':'));
            if !continues {
                out.push(path);
                if tokens.get(at).is_some_and(|t| t.is_ident("as")) {
                    at += 2;
                }
                return at;
            }
        } else {
            return at;
        }
    }
}

/// The file a path names from module `here`: the longest prefix of its absolute module path
/// that is a file's module. `None` for paths outside the crate or not relative to it.
fn resolve(
    path: &[String],
    here: &[String],
    files: &BTreeMap<Vec<String>, String>,
) -> Option<String> {
    let (first, rest) = path.split_first()?;
    let mut absolute: Vec<String> = match first.as_str() {
        "crate" => Vec::new(),
        "self" => here.to_vec(),
        "super" => here[..here.len().checked_sub(1)?].to_vec(),
        // A bare first segment names a child module only if that file exists (2018 paths).
        child => {
            let mut child_path = here.to_vec();
            child_path.push(child.to_string());
            files.get(&child_path)?;
            child_path
        }
    };
    let mut rest = rest.iter().peekable();
    while rest.peek().is_some_and(|s| *s == "super") {
        rest.next();
        absolute.pop()?;
    }
    absolute.extend(rest.cloned());
    (0..=absolute.len())
        .rev()
        .find_map(|n| files.get(&absolute[..n]).cloned())
}

/// Files one file imports: every `use` tree leaf and every inline `crate::`/`super::`/
/// `self::`/child-module path, resolved from the (inline) module it appears in. `mod foo;` is
/// not an import; `#[cfg(test)] mod` blocks are test code and are skipped.
fn imports(file: &str, src: &str, files: &BTreeMap<Vec<String>, String>) -> BTreeSet<String> {
    let tokens = lex(src);
    let blocks = test_blocks(&tokens);
    let base = module_of(file);
    let mut inline: Vec<(String, usize)> = Vec::new(); // (name, brace depth inside it)
    let (mut depth, mut at) = (0usize, 0usize);
    let mut targets = BTreeSet::new();
    while at < tokens.len() {
        let here: Vec<String> = base
            .iter()
            .cloned()
            .chain(inline.iter().map(|m| m.0.clone()))
            .collect();
        let token = &tokens[at];
        if in_blocks(&blocks, at) {
            at += 1;
            continue;
        }
        if token.is_punct('{') {
            depth += 1;
            let opens_mod = at >= 2 && tokens[at - 2].is_ident("mod");
            if opens_mod {
                let name = tokens[at - 1].ident().unwrap_or_default().to_string();
                inline.push((name, depth));
            }
        } else if token.is_punct('}') {
            if inline.last().is_some_and(|m| m.1 == depth) {
                inline.pop();
            }
            depth = depth.saturating_sub(1);
        } else if token.is_ident("use") {
            let mut paths = Vec::new();
            at = use_tree(&tokens, at + 1, &[], &mut paths);
            targets.extend(paths.iter().filter_map(|p| resolve(p, &here, files)));
            continue;
        } else if let Some(path) = inline_path(&tokens, at) {
            targets.extend(resolve(&path, &here, files));
            at += path.len() * 3 - 2;
            continue;
        }
        at += 1;
    }
    targets.remove(file);
    targets
}

/// The path segments of `a::b::c` starting at `at`, if a path starts there (not mid-path, not
/// a field access, not `pub(in …)`).
fn inline_path(tokens: &[Token], at: usize) -> Option<Vec<String>> {
    let first = tokens[at].ident()?;
    let prev = |back: usize| at.checked_sub(back).map(|i| &tokens[i]);
    if prev(1).is_some_and(|t| t.is_punct(':') || t.is_punct('.') || t.is_ident("in")) {
        return None;
    }
    let mut path = vec![first.to_string()];
    let mut next = at + 1;
    while tokens.get(next).is_some_and(|t| t.is_punct(':'))
        && tokens.get(next + 1).is_some_and(|t| t.is_punct(':'))
    {
        let Some(segment) = tokens.get(next + 2).and_then(Token::ident) else {
            break;
        };
        path.push(segment.to_string());
        next += 3;
    }
    (path.len() > 1).then_some(path)
}

/// Strongly connected components of more than one file: each holds at least one cycle.
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    let reaches = |from: &String| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.clone()];
        while let Some(node) = stack.pop() {
            for next in graph.get(&node).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    stack.push(next.clone());
                }
            }
        }
        seen
    };
    let reach: BTreeMap<&String, BTreeSet<String>> =
        graph.keys().map(|n| (n, reaches(n))).collect();
    let mut components: Vec<Vec<String>> = Vec::new();
    for (node, reached) in &reach {
        if components.iter().any(|c| c.contains(node)) {
            continue;
        }
        let component: Vec<String> = reached
            .iter()
            .filter(|other| *other == *node || reach.get(other).is_some_and(|r| r.contains(*node)))
            .cloned()
            .collect();
        if component.len() > 1 {
            components.push(component);
        }
    }
    components
}

/// Findings of the import-cycle rule over `sources` (path relative to `src/`, text).
fn check_cycles(dir: &str, sources: &[(String, String)]) -> Vec<String> {
    let layered: Vec<&(String, String)> = sources
        .iter()
        .filter(|(path, _)| !is_test_file(path))
        .collect();
    let files: BTreeMap<Vec<String>, String> = layered
        .iter()
        .map(|(path, _)| (module_of(path), path.clone()))
        .collect();
    let graph: BTreeMap<String, BTreeSet<String>> = layered
        .iter()
        .map(|(path, src)| (path.clone(), imports(path, src, &files)))
        .collect();
    cycles(&graph)
        .into_iter()
        .map(|files| format!("{dir}: import cycle among {}", files.join(", ")))
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// (path relative to `dir`, text) of every `.rs` file under `root/dir`.
fn read_sources(root: &Path, dir: &str) -> Vec<(String, String)> {
    let mut paths = Vec::new();
    rust_files(&root.join(dir), &mut paths);
    paths
        .iter()
        .map(|path| {
            let relative = path.strip_prefix(root.join(dir)).expect("under dir");
            let text = std::fs::read_to_string(path).expect("readable source");
            (relative.to_string_lossy().replace('\\', "/"), text)
        })
        .collect()
}

fn workspace_findings() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root");
    let mut findings = Vec::new();
    for dir in SOURCE_DIRS {
        let sources = read_sources(root, dir);
        for (relative, src) in &sources {
            findings.extend(check_file(
                &format!("{dir}/{relative}"),
                src,
                is_test_file(relative),
            ));
        }
        if dir == LAYERED_DIR {
            findings.extend(check_cycles(dir, &sources));
        }
    }
    findings
}

/// The workspace obeys every rule; each offender is listed, not only the first.
#[test]
fn workspace_is_tidy() {
    let findings = workspace_findings();
    for finding in &findings {
        println!("{finding}");
    }
    println!("tidy: {} finding(s)", findings.len());
    assert!(
        findings.is_empty(),
        "{} tidy finding(s):\n{}",
        findings.len(),
        findings.join("\n")
    );
}

/// A function of `body` lines between its `fn` line and its closing brace.
fn function_of(body: usize) -> String {
    let lines: String = (0..body)
        .map(|i| format!("    let _x{i} = \"{{\";\n"))
        .collect();
    format!("fn long() {{\n{lines}}}\n")
}

fn findings_of(src: &str) -> Vec<String> {
    check_file("x.rs", &format!("//! doc\n{src}"), false)
}

#[test]
fn a_function_of_71_lines_is_reported_and_70_is_not() {
    let found = findings_of(&function_of(69));
    assert_eq!(
        found,
        vec!["x.rs:2: fn long is 71 lines (limit 70)".to_string()]
    );
    assert!(findings_of(&function_of(68)).is_empty());
}

#[test]
fn braces_in_strings_chars_comments_and_lifetimes_do_not_count() {
    let src = "fn f<'a>(x: &'a str) -> char {\n    let _ = r#\"}\"#; // }\n    /* } */ '}'\n}\n\
               fn g() {}\n";
    let tokens = lex(src);
    let found = functions(&tokens);
    assert_eq!(
        found,
        vec![("f".to_string(), 1, 4), ("g".to_string(), 5, 1)]
    );
}

#[test]
fn test_code_is_exempt_from_sizes() {
    let tests = format!("#[cfg(test)]\nmod tests {{\n{}}}\n", function_of(100));
    assert!(findings_of(&tests).is_empty());
    assert!(check_file("tests.rs", &format!("//! t\n{}", function_of(100)), true).is_empty());
    assert!(is_test_file("engine/tests.rs"));
    assert!(is_test_file("command/testkit.rs"));
    assert!(is_test_file("rdb/tests/fixtures.rs"));
    assert!(!is_test_file("client.rs"));
}

#[test]
fn a_file_of_601_lines_is_reported() {
    let src: String = (0..600).map(|_| "const _: u8 = 0;\n").collect();
    assert_eq!(
        findings_of(&src),
        vec!["x.rs: 601 lines outside tests (limit 600)".to_string()]
    );
    assert!(findings_of(&src[17..]).is_empty());
}

#[test]
fn a_file_without_a_leading_module_comment_is_reported() {
    let found = check_file("x.rs", "/// item doc\nfn f() {}\n", false);
    assert_eq!(
        found,
        vec!["x.rs: does not open with a `//!` module comment".to_string()]
    );
    assert!(check_file("x.rs", "\n//! owns x\nfn f() {}\n", false).is_empty());
}

fn sources(files: &[(&str, &str)]) -> Vec<(String, String)> {
    files
        .iter()
        .map(|(p, s)| (p.to_string(), s.to_string()))
        .collect()
}

#[test]
fn a_two_file_cycle_is_reported() {
    let two = sources(&[
        ("lib.rs", "mod a;\nmod b;\n"),
        ("a.rs", "use crate::b::Thing;\n"),
        ("b.rs", "fn f() { crate::a::g(); }\n"),
    ]);
    assert_eq!(
        check_cycles("src", &two),
        vec!["src: import cycle among a.rs, b.rs".to_string()]
    );
    let acyclic = sources(&[("a.rs", "use crate::b::Thing;\n"), ("b.rs", "fn f() {}\n")]);
    assert!(check_cycles("src", &acyclic).is_empty());
}

#[test]
fn nested_use_trees_and_globs_resolve_to_files() {
    let files: BTreeMap<Vec<String>, String> = [
        "lib.rs",
        "x/mod.rs",
        "x/a.rs",
        "x/b/mod.rs",
        "x/b/c.rs",
        "x/m.rs",
    ]
    .iter()
    .map(|p| (module_of(p), p.to_string()))
    .collect();
    let found = imports("x/m.rs", "use super::{a, b::{c, self}};\n", &files);
    let expected = ["x/a.rs", "x/b/c.rs", "x/b/mod.rs"];
    assert_eq!(found, expected.iter().map(|s| s.to_string()).collect());
    let glob = imports("x/m.rs", "use super::*;\nuse std::io;\n", &files);
    assert_eq!(glob, BTreeSet::from(["x/mod.rs".to_string()]));
    // An item of a file is that file; `mod` declarations and self-edges are no imports.
    let items = imports(
        "x/mod.rs",
        "mod a;\nuse self::a::Item;\nfn f() { m::g(); self::h(); }\n",
        &files,
    );
    assert_eq!(
        items,
        BTreeSet::from(["x/a.rs".to_string(), "x/m.rs".to_string()])
    );
}

#[test]
fn inline_modules_and_test_blocks_shift_or_drop_imports() {
    let files: BTreeMap<Vec<String>, String> = ["lib.rs", "x/mod.rs", "x/m.rs"]
        .iter()
        .map(|p| (module_of(p), p.to_string()))
        .collect();
    // Inside `mod inner` of x/m.rs, `super` is x/m.rs itself: a self-edge.
    let inner = imports("x/m.rs", "mod inner { use super::f; }\n", &files);
    assert!(inner.is_empty());
    let test_only = imports(
        "x/m.rs",
        "#[cfg(test)]\nmod tests { use crate::x::Y; }\n",
        &files,
    );
    assert!(test_only.is_empty());
    let three = sources(&[
        ("x/mod.rs", "use self::m::M;\n"),
        ("x/m.rs", "use super::*;\n"),
        ("x/tests.rs", "use super::*;\n"),
    ]);
    assert_eq!(
        check_cycles("d", &three),
        vec!["d: import cycle among x/m.rs, x/mod.rs".to_string()]
    );
}
