//! Recognising account and privilege changes (DCL) in SQL text.
//!
//! A statement is DCL when, after leading whitespace, comments, `(` and the `/*!NNNNN` prefix of version
//! comments, it starts with GRANT, REVOKE, CREATE/ALTER/DROP/RENAME USER, SET PASSWORD, CREATE/DROP ROLE or
//! SET DEFAULT ROLE, in any letter case and across lines. Words inside string literals, quoted identifiers and
//! comments never count, so `SHOW GRANTS`, `FLUSH PRIVILEGES` or `SELECT 'GRANT ALL ...'` are not DCL.

/// DCL statement categories, named as in every output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Category {
    /// `GRANT priv ON obj TO account`
    #[cfg_attr(feature = "serde", serde(rename = "GRANT"))]
    Grant,
    /// `GRANT role TO account`
    #[cfg_attr(feature = "serde", serde(rename = "GRANT ROLE"))]
    GrantRole,
    /// `REVOKE priv ON obj FROM account`
    #[cfg_attr(feature = "serde", serde(rename = "REVOKE"))]
    Revoke,
    /// `REVOKE role FROM account`
    #[cfg_attr(feature = "serde", serde(rename = "REVOKE ROLE"))]
    RevokeRole,
    /// `CREATE [OR REPLACE] USER`
    #[cfg_attr(feature = "serde", serde(rename = "CREATE USER"))]
    CreateUser,
    /// `ALTER USER`
    #[cfg_attr(feature = "serde", serde(rename = "ALTER USER"))]
    AlterUser,
    /// `DROP USER`
    #[cfg_attr(feature = "serde", serde(rename = "DROP USER"))]
    DropUser,
    /// `RENAME USER`
    #[cfg_attr(feature = "serde", serde(rename = "RENAME USER"))]
    RenameUser,
    /// `SET PASSWORD`
    #[cfg_attr(feature = "serde", serde(rename = "SET PASSWORD"))]
    SetPassword,
    /// `CREATE ROLE`
    #[cfg_attr(feature = "serde", serde(rename = "CREATE ROLE"))]
    CreateRole,
    /// `DROP ROLE`
    #[cfg_attr(feature = "serde", serde(rename = "DROP ROLE"))]
    DropRole,
    /// `SET DEFAULT ROLE`
    #[cfg_attr(feature = "serde", serde(rename = "SET DEFAULT ROLE"))]
    SetDefaultRole,
}

impl Category {
    /// The name used in outputs (`GRANT`, `CREATE USER`, ...).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Category::Grant => "GRANT",
            Category::GrantRole => "GRANT ROLE",
            Category::Revoke => "REVOKE",
            Category::RevokeRole => "REVOKE ROLE",
            Category::CreateUser => "CREATE USER",
            Category::AlterUser => "ALTER USER",
            Category::DropUser => "DROP USER",
            Category::RenameUser => "RENAME USER",
            Category::SetPassword => "SET PASSWORD",
            Category::CreateRole => "CREATE ROLE",
            Category::DropRole => "DROP ROLE",
            Category::SetDefaultRole => "SET DEFAULT ROLE",
        }
    }
}

/// What the classifier found in a DCL statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dcl {
    /// The statement kind.
    pub category: Category,
    /// Why it is high severity, if it is: `all privileges`, `with grant option`, `administrative privilege
    /// SUPER`, `global scope *.*`, `account for any host '%'`.
    pub high: Vec<String>,
}

/// Administrative privileges: holding one is as good as owning the server.
const ADMIN_PRIVILEGES: &[&str] = &[
    "SUPER",
    "FILE",
    "PROCESS",
    "SHUTDOWN",
    "RELOAD",
    "CREATE USER",
    "GRANT OPTION",
    "REPLICATION SLAVE",
    "REPLICATION CLIENT",
    "REPLICATION SLAVE ADMIN",
    "BINLOG ADMIN",
    "BINLOG REPLAY",
    "CONNECTION ADMIN",
    "READ_ONLY ADMIN",
    "FEDERATED ADMIN",
    "SET USER",
    "CREATE TABLESPACE",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok<'a> {
    Word(&'a [u8]),
    /// A quoted string or identifier, without its quotes.
    Quoted(&'a [u8]),
    Punct(u8),
}

/// Significant tokens of `sql`: comments skipped, version comments entered.
fn tokens(sql: &[u8]) -> Vec<Tok<'_>> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&b) = sql.get(i) {
        if b.is_ascii_whitespace() {
            i += 1;
        } else if b == b'/' && sql.get(i + 1) == Some(&b'*') {
            if sql.get(i + 2) == Some(&b'!') {
                i += 3;
                while sql.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
            } else {
                i = sql.get(i + 2..).and_then(|r| memchr::memmem::find(r, b"*/")).map_or(sql.len(), |e| i + 2 + e + 2);
            }
        } else if b == b'*' && sql.get(i + 1) == Some(&b'/') {
            i += 2;
        } else if b == b'#'
            || (b == b'-' && sql.get(i + 1) == Some(&b'-') && sql.get(i + 2).is_none_or(|c| c.is_ascii_whitespace()))
        {
            i = sql.get(i..).and_then(|r| memchr::memchr(b'\n', r)).map_or(sql.len(), |e| i + e);
        } else if b == b'\'' || b == b'"' || b == b'`' {
            let mut j = i + 1;
            loop {
                match sql.get(j) {
                    None => break,
                    Some(&c) if c == b'\\' && b != b'`' => j += 2,
                    Some(&c) if c == b && sql.get(j + 1) == Some(&b) => j += 2,
                    Some(&c) if c == b => break,
                    Some(_) => j += 1,
                }
            }
            out.push(Tok::Quoted(sql.get(i + 1..j.min(sql.len())).unwrap_or_default()));
            i = j + 1;
        } else if b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80 {
            let mut j = i;
            while sql.get(j).is_some_and(|&c| c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80) {
                j += 1;
            }
            out.push(Tok::Word(sql.get(i..j).unwrap_or_default()));
            i = j;
        } else {
            out.push(Tok::Punct(b));
            i += 1;
        }
        if out.len() > 4096 {
            break;
        }
    }
    out
}

fn is_word(t: Option<&Tok<'_>>, w: &str) -> bool {
    matches!(t, Some(Tok::Word(x)) if x.eq_ignore_ascii_case(w.as_bytes()))
}

/// Classifies a statement; `None` when it is not DCL.
///
/// ```
/// use auditlog_core::analyze::{classify_dcl, Category};
/// let d = classify_dcl(b"/* x */ grant all privileges on *.* to 'ops'@'%' with grant option").unwrap();
/// assert_eq!(d.category, Category::Grant);
/// assert_eq!(d.high.len(), 4);
/// assert_eq!(classify_dcl(b"GRANT reader TO 'bob'@'10.0.0.1'").unwrap().category, Category::GrantRole);
/// assert!(classify_dcl(b"SHOW GRANTS FOR CURRENT_USER()").is_none());
/// assert!(classify_dcl(b"SELECT 'GRANT ALL ON *.* TO x' AS s").is_none());
/// ```
#[must_use]
pub fn classify_dcl(sql: &[u8]) -> Option<Dcl> {
    // Cheap exit, on every statement of the log: the first word must start a DCL statement.
    if !first_word_may_be_dcl(sql) {
        return None;
    }
    let toks = tokens(sql);
    let mut start = 0;
    while matches!(toks.get(start), Some(Tok::Punct(b'('))) {
        start += 1;
    }
    let t = toks.get(start..).unwrap_or_default();
    let w = |k: usize, s: &str| is_word(t.get(k), s);
    // `ON` before `TO`/`FROM` at top level tells a privilege grant from a role grant.
    let has_on = || {
        let mut depth = 0i32;
        for tok in t {
            match tok {
                Tok::Punct(b'(') => depth += 1,
                Tok::Punct(b')') => depth -= 1,
                Tok::Word(x) if depth == 0 && (x.eq_ignore_ascii_case(b"TO") || x.eq_ignore_ascii_case(b"FROM")) => {
                    return false
                }
                Tok::Word(x) if depth == 0 && x.eq_ignore_ascii_case(b"ON") => return true,
                _ => {}
            }
        }
        false
    };
    let category = if w(0, "GRANT") {
        if has_on() {
            Category::Grant
        } else {
            Category::GrantRole
        }
    } else if w(0, "REVOKE") {
        if has_on() || (w(1, "ALL") && !is_word(t.get(2), "ON")) {
            Category::Revoke
        } else {
            Category::RevokeRole
        }
    } else if w(0, "CREATE") && (w(1, "USER") || (w(1, "OR") && w(2, "REPLACE") && w(3, "USER"))) {
        Category::CreateUser
    } else if w(0, "CREATE") && (w(1, "ROLE") || (w(1, "OR") && w(2, "REPLACE") && w(3, "ROLE"))) {
        Category::CreateRole
    } else if w(0, "ALTER") && w(1, "USER") {
        Category::AlterUser
    } else if w(0, "DROP") && w(1, "USER") {
        Category::DropUser
    } else if w(0, "DROP") && w(1, "ROLE") {
        Category::DropRole
    } else if w(0, "RENAME") && w(1, "USER") {
        Category::RenameUser
    } else if w(0, "SET") && w(1, "PASSWORD") {
        Category::SetPassword
    } else if w(0, "SET") && w(1, "DEFAULT") && w(2, "ROLE") {
        Category::SetDefaultRole
    } else {
        return None;
    };
    Some(Dcl { category, high: high_reasons(category, t) })
}

/// The first word after whitespace, `(`, comments and version-comment prefixes is one that can start DCL.
pub(crate) fn first_word_may_be_dcl(sql: &[u8]) -> bool {
    let mut i = 0;
    loop {
        match sql.get(i) {
            Some(b) if b.is_ascii_whitespace() || *b == b'(' => i += 1,
            // The audit log's escaped line ends and tabs (`\n`, `\r`, `\t`) are whitespace too.
            Some(b'\\') if matches!(sql.get(i + 1), Some(b'n' | b'r' | b't')) => i += 2,
            Some(b'/') if sql.get(i + 1) == Some(&b'*') => {
                if sql.get(i + 2) == Some(&b'!') {
                    i += 3;
                    while sql.get(i).is_some_and(u8::is_ascii_digit) {
                        i += 1;
                    }
                } else {
                    match sql.get(i + 2..).and_then(|r| memchr::memmem::find(r, b"*/")) {
                        Some(e) => i += e + 4,
                        None => return false,
                    }
                }
            }
            Some(b'#') => match sql.get(i..).and_then(|r| memchr::memchr(b'\n', r)) {
                Some(e) => i += e,
                None => return false,
            },
            Some(b'-') if sql.get(i + 1) == Some(&b'-') => match sql.get(i..).and_then(|r| memchr::memchr(b'\n', r)) {
                Some(e) => i += e,
                None => return false,
            },
            _ => break,
        }
    }
    let rest = sql.get(i..).unwrap_or_default();
    let end = rest.iter().position(|b| !b.is_ascii_alphabetic()).unwrap_or(rest.len());
    let word = rest.get(..end).unwrap_or_default();
    ["GRANT", "REVOKE", "CREATE", "ALTER", "DROP", "RENAME", "SET"]
        .iter()
        .any(|k| word.eq_ignore_ascii_case(k.as_bytes()))
}

fn high_reasons(category: Category, t: &[Tok<'_>]) -> Vec<String> {
    let mut high = Vec::new();
    let mut push = |s: String| {
        if !high.contains(&s) {
            high.push(s);
        }
    };
    if matches!(category, Category::Grant | Category::Revoke | Category::GrantRole) {
        // The privilege list: words up to ON (at top level).
        let on = t.iter().position(|x| is_word(Some(x), "ON")).unwrap_or(t.len());
        let privs = t.get(1..on).unwrap_or_default();
        if category == Category::Grant {
            if privs.iter().any(|x| is_word(Some(x), "ALL")) {
                push("all privileges".into());
            }
            let words: Vec<String> = privs
                .split(|x| matches!(x, Tok::Punct(b',')))
                .map(|p| {
                    p.iter()
                        .take_while(|x| !matches!(x, Tok::Punct(b'(')))
                        .filter_map(|x| match x {
                            Tok::Word(w) => Some(String::from_utf8_lossy(w).to_ascii_uppercase()),
                            _ => None,
                        })
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect();
            for p in words {
                let admin = ADMIN_PRIVILEGES.contains(&p.as_str())
                    || p.ends_with("_ADMIN")
                    || (p.ends_with(" ADMIN") && p != "ADMIN");
                if admin {
                    push(format!("administrative privilege {p}"));
                }
            }
            // `ON *.*`
            let scope = t.get(on + 1..on + 4).unwrap_or_default();
            if scope == [Tok::Punct(b'*'), Tok::Punct(b'.'), Tok::Punct(b'*')]
                || t.get(on + 1..on + 2) == Some(&[Tok::Punct(b'*')])
                    && t.get(on + 2).is_none_or(|x| !matches!(x, Tok::Punct(b'.')))
            {
                push("global scope *.*".into());
            }
        }
        if t.windows(3).any(|w| is_word(w.first(), "WITH") && is_word(w.get(1), "GRANT") && is_word(w.get(2), "OPTION"))
            || t.windows(2).any(|w| is_word(w.first(), "ADMIN") && is_word(w.get(1), "OPTION"))
        {
            push("with grant option".into());
        }
    }
    // Accounts for any host: `'u'@'%'`, and CREATE USER without a host part (which means '%').
    let any_host = t
        .windows(2)
        .any(|w| matches!(w.first(), Some(Tok::Punct(b'@'))) && matches!(w.get(1), Some(Tok::Quoted(h)) if *h == b"%"))
        || t.windows(2).any(|w| matches!((w.first(), w.get(1)), (Some(Tok::Punct(b'@')), Some(Tok::Punct(b'%')))));
    let creates =
        matches!(category, Category::CreateUser | Category::RenameUser | Category::Grant | Category::GrantRole);
    if creates && any_host {
        push("account for any host '%'".into());
    }
    if category == Category::CreateUser && !t.iter().any(|x| matches!(x, Tok::Punct(b'@'))) {
        push("account for any host '%' (no host given)".into());
    }
    high
}

/// A statement normalized for matching the same statement across logs: secrets and masks (`'<redacted>'`,
/// `*****`, `<secret>`, `PASSWORD(...)` around them) become `?`, whitespace runs one space, letters lower case.
#[must_use]
pub fn statement_key(redacted: &[u8]) -> String {
    let s = String::from_utf8_lossy(redacted);
    let s = s.replace("'<redacted>'", "?").replace("\"<redacted>\"", "?").replace("<redacted>", "?");
    let s = s.replace("*****", "?").replace("<secret>", "?");
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.chars() {
        if c.is_whitespace() {
            space = true;
        } else {
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            out.extend(c.to_lowercase());
        }
    }
    // MySQL 8.0 rewrites `PASSWORD('x')` to `<secret>` where the audit plugin writes `PASSWORD(*****)`.
    out.replace("old_password(?)", "?").replace("password(?)", "?")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cat(s: &str) -> Option<Category> {
        classify_dcl(s.as_bytes()).map(|d| d.category)
    }

    fn high(s: &str) -> Vec<String> {
        classify_dcl(s.as_bytes()).map(|d| d.high).unwrap_or_default()
    }

    #[test]
    fn categories() {
        assert_eq!(cat("GRANT SELECT ON shop.* TO 'report'@'127.0.0.%'"), Some(Category::Grant));
        assert_eq!(cat("grant 'readers' to 'bob'@'127.0.0.%'"), Some(Category::GrantRole));
        assert_eq!(cat("REVOKE INSERT ON shop.* FROM 'a'@'h'"), Some(Category::Revoke));
        assert_eq!(cat("REVOKE ALL PRIVILEGES, GRANT OPTION FROM 'a'@'h'"), Some(Category::Revoke));
        assert_eq!(cat("REVOKE readers FROM bob"), Some(Category::RevokeRole));
        assert_eq!(cat("CREATE OR REPLACE USER x"), Some(Category::CreateUser));
        assert_eq!(cat("create user if not exists x@'10.0.0.1'"), Some(Category::CreateUser));
        assert_eq!(cat("ALTER USER x IDENTIFIED BY 'p'"), Some(Category::AlterUser));
        assert_eq!(cat("DROP USER x"), Some(Category::DropUser));
        assert_eq!(cat("RENAME USER a TO b"), Some(Category::RenameUser));
        assert_eq!(cat("SET PASSWORD FOR a = PASSWORD('x')"), Some(Category::SetPassword));
        assert_eq!(cat("CREATE ROLE readers"), Some(Category::CreateRole));
        assert_eq!(cat("DROP ROLE readers"), Some(Category::DropRole));
        assert_eq!(cat("SET DEFAULT ROLE readers FOR bob"), Some(Category::SetDefaultRole));
        assert_eq!(cat("/*!50000 GRANT SELECT ON t.* TO u */"), Some(Category::Grant));
        assert_eq!(cat("  /* c */ -- line\n\n  Grant\n select\n on db.*\n to u"), Some(Category::Grant));
        assert_eq!(cat("(GRANT SELECT ON a.* TO b)"), Some(Category::Grant));
    }

    #[test]
    fn decoys() {
        for s in [
            "SHOW GRANTS",
            "SHOW GRANTS FOR 'app'@'127.0.0.%'",
            "FLUSH PRIVILEGES",
            "SELECT 'GRANT ALL ON *.* TO x' AS s",
            "SELECT * FROM grants WHERE note = 'revoke later'",
            "CREATE TABLE grants (id INT)",
            "SELECT `grant` FROM t",
            "UPDATE users SET password = 'x'",
            "SET ROLE readers",
            "/* GRANT ALL ON *.* TO x */ SELECT 1",
        ] {
            assert_eq!(cat(s), None, "{s}");
        }
    }

    #[test]
    fn severity_reasons() {
        assert_eq!(
            high("GRANT ALL PRIVILEGES ON *.* TO 'ops'@'%' WITH GRANT OPTION"),
            ["all privileges", "global scope *.*", "with grant option", "account for any host '%'"]
        );
        assert_eq!(
            high("GRANT SUPER, PROCESS ON *.* TO a@b"),
            ["administrative privilege SUPER", "administrative privilege PROCESS", "global scope *.*"]
        );
        assert_eq!(
            high("GRANT SYSTEM_VARIABLES_ADMIN ON *.* TO a@b").first().map(String::as_str),
            Some("administrative privilege SYSTEM_VARIABLES_ADMIN")
        );
        assert!(high("GRANT SELECT ON shop.* TO 'report'@'127.0.0.%'").is_empty());
        assert_eq!(high("CREATE USER 'ops'@'%' IDENTIFIED BY 'x'"), ["account for any host '%'"]);
        assert_eq!(high("CREATE USER ops"), ["account for any host '%' (no host given)"]);
        assert!(high("CREATE USER 'a'@'127.0.0.1'").is_empty());
        assert!(high("REVOKE ALL ON *.* FROM a@b").is_empty());
    }

    #[test]
    fn keys_match_across_masking() {
        assert_eq!(
            statement_key(b"CREATE USER 'a'@'%' IDENTIFIED BY '<redacted>'"),
            statement_key(b"CREATE USER 'a'@'%'\n   IDENTIFIED BY *****")
        );
        assert_eq!(
            statement_key(b"SET PASSWORD FOR a = PASSWORD('<redacted>')"),
            statement_key(b"set password for a = password(*****)")
        );
    }
}
