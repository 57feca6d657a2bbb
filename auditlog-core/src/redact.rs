//! Secret redaction for SQL text.
//!
//! Logs can hold passwords in clear: the general log of MariaDB and MySQL writes statements as sent, and the
//! audit plugin's masking is best effort. [`redact_sql`] replaces every secret literal it recognises with
//! `'<redacted>'`: the operand of `IDENTIFIED BY`, `IDENTIFIED WITH plugin BY/AS`, `IDENTIFIED VIA plugin USING`,
//! `PASSWORD(...)`/`OLD_PASSWORD(...)`, `SET PASSWORD ... = ...`, `REPLACE '...'` in account statements, and
//! `*PASSWORD = '...'` options (`MASTER_PASSWORD`, `SOURCE_PASSWORD`, `CREATE SERVER ... OPTIONS (PASSWORD ...)`).
//! It understands quoted strings (backslash escapes, doubled quotes), back-quoted identifiers and comments, so
//! the words are only matched as SQL keywords, in any letter case.

use std::borrow::Cow;

/// The text that replaces a secret.
pub const REDACTED: &str = "<redacted>";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Arm {
    Off,
    /// After `IDENTIFIED BY`: a literal or a bare word is the secret.
    Any,
    /// After `PASSWORD`, `AS`, `USING`, `REPLACE`, `=`: a string literal is the secret; `=` and `(` wait.
    Literal,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tok {
    Word,
    Literal,
    Punct(u8),
}

fn word_eq(w: &[u8], k: &str) -> bool {
    w.eq_ignore_ascii_case(k.as_bytes())
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// Scans one token at `i`; returns (token, start, end). Whitespace and comments are skipped first.
fn next_token(s: &[u8], mut i: usize) -> Option<(Tok, usize, usize)> {
    loop {
        let b = *s.get(i)?;
        if b.is_ascii_whitespace() {
            i += 1;
        } else if b == b'/' && s.get(i + 1) == Some(&b'*') {
            // Version comments `/*!50100 ... */` hold real SQL: step inside them.
            if s.get(i + 2) == Some(&b'!') {
                i += 3;
                while s.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
            } else {
                i = memchr::memmem::find(s.get(i + 2..)?, b"*/").map_or(s.len(), |e| i + 2 + e + 2);
            }
        } else if b == b'*' && s.get(i + 1) == Some(&b'/') {
            i += 2; // end of a version comment
        } else if b == b'#'
            || (b == b'-' && s.get(i + 1) == Some(&b'-') && s.get(i + 2).is_none_or(|c| c.is_ascii_whitespace()))
        {
            i = memchr::memchr(b'\n', s.get(i..)?).map_or(s.len(), |e| i + e);
        } else {
            break;
        }
    }
    let b = *s.get(i)?;
    let start = i;
    if b == b'\'' || b == b'"' || b == b'`' {
        let mut j = i + 1;
        loop {
            match s.get(j) {
                None => return Some((if b == b'`' { Tok::Word } else { Tok::Literal }, start, s.len())),
                Some(&c) if c == b'\\' && b != b'`' => j += 2,
                Some(&c) if c == b => {
                    if s.get(j + 1) == Some(&b) {
                        j += 2;
                    } else {
                        let tok = if b == b'`' { Tok::Word } else { Tok::Literal };
                        return Some((tok, start, j + 1));
                    }
                }
                Some(_) => j += 1,
            }
        }
    }
    if is_word_byte(b) {
        let mut j = i;
        while s.get(j).is_some_and(|&c| is_word_byte(c)) {
            j += 1;
        }
        return Some((Tok::Word, start, j));
    }
    Some((Tok::Punct(b), start, i + 1))
}

/// Replaces secrets in `sql` (already unescaped SQL text) with `'<redacted>'`. Borrows when there is none.
///
/// ```
/// use auditlog_core::redact::redact_sql;
/// let r = |s: &str| String::from_utf8(redact_sql(s.as_bytes()).into_owned()).unwrap();
/// assert_eq!(r("create user 'a'@'%' identified by 'pw'"), "create user 'a'@'%' identified by '<redacted>'");
/// assert_eq!(r("SET PASSWORD FOR a@b = PASSWORD('x')"), "SET PASSWORD FOR a@b = PASSWORD('<redacted>')");
/// assert_eq!(r("SELECT 'identified by x' FROM t"), "SELECT 'identified by x' FROM t");
/// ```
#[must_use]
pub fn redact_sql(sql: &[u8]) -> Cow<'_, [u8]> {
    if !may_hold_secret(sql) {
        return Cow::Borrowed(sql);
    }
    redact_tokens(sql)
}

/// Whether `sql` contains `password` or `identified` in any case: every secret the tokenizer redacts follows a
/// word ending in `PASSWORD` or the word `IDENTIFIED`, so without either there is nothing to redact.
fn may_hold_secret(sql: &[u8]) -> bool {
    trigger_ends(sql).next().is_some()
}

/// The end of each `password` or `identified` in `text`, in any case, quoted or not. Both end in `d`: only the
/// bytes before each `d` are compared, much cheaper than tokenizing.
fn trigger_ends(text: &[u8]) -> impl Iterator<Item = usize> + '_ {
    memchr::memchr2_iter(b'd', b'D', text).filter_map(move |d| {
        let ends =
            |w: &[u8]| d + 1 >= w.len() && text.get(d + 1 - w.len()..=d).is_some_and(|t| t.eq_ignore_ascii_case(w));
        (ends(b"password") || ends(b"identified")).then_some(d + 1)
    })
}

/// Redacts text whose statements cannot be told apart: a malformed record, or a whole record whose SQL could not
/// be found in it. Nothing says where a secret would end, so everything after the first `IDENTIFIED` or
/// `PASSWORD` (in any case, quoted or not, also inside a word such as `MASTER_PASSWORD`) is replaced by
/// `<redacted>`. Borrows when there is no such word. Cutting a text and then redacting it gives a prefix of the
/// whole text redacted, so a shortened record can be redacted after it was shortened.
///
/// ```
/// use auditlog_core::redact::redact_unparsed;
/// let r = |s: &str| String::from_utf8(redact_unparsed(s.as_bytes()).into_owned()).unwrap();
/// assert_eq!(
///     r(r"1703817810,db-1,u,h,1,2,QUERY,,'CREATE USER \'a\' IDENTIFIED BY \'S3cret\'',0"),
///     r"1703817810,db-1,u,h,1,2,QUERY,,'CREATE USER \'a\' IDENTIFIED <redacted>"
/// );
/// assert_eq!(r("SELECT 1"), "SELECT 1");
/// ```
#[must_use]
pub fn redact_unparsed(text: &[u8]) -> Cow<'_, [u8]> {
    let Some(end) = trigger_ends(text).next() else {
        return Cow::Borrowed(text);
    };
    let mut out = Vec::with_capacity(end + 1 + REDACTED.len());
    out.extend_from_slice(text.get(..end).unwrap_or_default());
    out.push(b' ');
    out.extend_from_slice(REDACTED.as_bytes());
    Cow::Owned(out)
}

/// The tokenizing redaction behind [`redact_sql`].
fn redact_tokens(sql: &[u8]) -> Cow<'_, [u8]> {
    let mut spans: Vec<(usize, usize, Tok)> = Vec::new();
    let mut arm = Arm::Off;
    let mut prev_word: &[u8] = b"";
    let mut identified = false; // the statement has IDENTIFIED: BY/AS/USING/REPLACE then carry secrets
    let mut first_words: (Option<&[u8]>, Option<&[u8]>) = (None, None);
    let mut i = 0;
    while let Some((tok, s, e)) = next_token(sql, i) {
        i = e.max(i + 1);
        let text = sql.get(s..e).unwrap_or_default();
        match tok {
            Tok::Literal => {
                if arm != Arm::Off {
                    spans.push((s, e, Tok::Literal));
                }
                arm = Arm::Off;
            }
            Tok::Word => {
                if first_words.0.is_none() {
                    first_words.0 = Some(text);
                } else if first_words.1.is_none() {
                    first_words.1 = Some(text);
                }
                let introducer =
                    (word_eq(text, "X") || word_eq(text, "B") || word_eq(text, "N") || text.first() == Some(&b'_'))
                        && matches!(sql.get(e), Some(b'\'' | b'"'));
                if arm != Arm::Off && introducer {
                    continue;
                }
                let upper_is = |k: &str| word_eq(text, k);
                let ends_password =
                    text.len() >= 8 && text.get(text.len() - 8..).is_some_and(|t| t.eq_ignore_ascii_case(b"PASSWORD"));
                if ends_password && text.first() != Some(&b'`') {
                    arm = Arm::Literal;
                } else if arm == Arm::Any && !upper_is("RANDOM") {
                    spans.push((s, e, Tok::Word));
                    arm = Arm::Off;
                } else if upper_is("IDENTIFIED") {
                    identified = true;
                    arm = Arm::Off;
                } else if upper_is("BY") && word_eq(prev_word, "IDENTIFIED") {
                    arm = Arm::Any;
                } else if identified && (upper_is("BY") || upper_is("AS") || upper_is("USING") || upper_is("REPLACE")) {
                    arm = Arm::Literal;
                } else {
                    arm = Arm::Off;
                }
                prev_word = text;
            }
            Tok::Punct(b'=') => {
                let set_password = first_words.0.is_some_and(|w| word_eq(w, "SET"))
                    && first_words.1.is_some_and(|w| word_eq(w, "PASSWORD"));
                if set_password || arm != Arm::Off {
                    arm = Arm::Literal;
                }
            }
            Tok::Punct(b'(') => {}
            Tok::Punct(b',' | b';') => {
                arm = Arm::Off;
                if tok == Tok::Punct(b';') {
                    identified = false;
                    first_words = (None, None);
                }
            }
            Tok::Punct(_) => arm = Arm::Off,
        }
    }
    if spans.is_empty() {
        return Cow::Borrowed(sql);
    }
    let mut out = Vec::with_capacity(sql.len());
    let mut last = 0;
    for (s, e, tok) in spans {
        out.extend_from_slice(sql.get(last..s).unwrap_or_default());
        match tok {
            Tok::Literal => {
                let q = sql.get(s).copied().unwrap_or(b'\'');
                out.push(q);
                out.extend_from_slice(REDACTED.as_bytes());
                out.push(q);
            }
            _ => out.extend_from_slice(REDACTED.as_bytes()),
        }
        last = e;
    }
    out.extend_from_slice(sql.get(last..).unwrap_or_default());
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The pre-check never skips a statement the tokenizer would redact: statements of SQL words,
        /// literals, comments and the trigger words in any case and position.
        #[test]
        fn the_pre_check_skips_only_what_has_nothing_to_redact(
            words in proptest::collection::vec(proptest::sample::select(vec![
                "CREATE", "USER", "u@h", "IDENTIFIED", "identified", "By", "BY", "AS", "USING", "REPLACE", "SET",
                "PASSWORD", "password", "old_password", "PaSsWoRd", "=", "(", ")", "'s3cret'", "\"x\"", ",", ";",
                "/* c */", "-- x\n", "`password`", "RANDOM", "_utf8'x'", "X'41'", "ID", "SELECT", "*",
            ]), 0..14),
        ) {
            let sql = words.join(" ");
            if !may_hold_secret(sql.as_bytes()) {
                proptest::prop_assert!(matches!(redact_tokens(sql.as_bytes()), Cow::Borrowed(_)), "{}", sql);
            }
            proptest::prop_assert_eq!(redact_sql(sql.as_bytes()), redact_tokens(sql.as_bytes()));
        }
    }

    #[test]
    fn the_pre_check_finds_the_words_in_any_case_and_place() {
        for s in ["password", "x PASSWORD(", "identified", "IdEnTiFiEd by", "set old_password=1", "d password"] {
            assert!(may_hold_secret(s.as_bytes()), "{s}");
        }
        for s in ["", "d", "select id from t where a = 'b'", "passwor d", "identifie", "ssword", "dentified"] {
            assert!(!may_hold_secret(s.as_bytes()), "{s}");
        }
    }

    fn r(s: &str) -> String {
        String::from_utf8(redact_sql(s.as_bytes()).into_owned()).unwrap()
    }

    #[test]
    fn account_statements() {
        assert_eq!(
            r("CREATE USER 'u'@'%' IDENTIFIED BY 'S3cret-Pa55'"),
            "CREATE USER 'u'@'%' IDENTIFIED BY '<redacted>'"
        );
        assert_eq!(r("alter user u identified by \"p'q\""), "alter user u identified by \"<redacted>\"");
        assert_eq!(
            r("ALTER USER u IDENTIFIED BY 'new' REPLACE 'old'"),
            "ALTER USER u IDENTIFIED BY '<redacted>' REPLACE '<redacted>'"
        );
        assert_eq!(
            r("GRANT ALL ON *.* TO u IDENTIFIED BY 'x' WITH GRANT OPTION"),
            "GRANT ALL ON *.* TO u IDENTIFIED BY '<redacted>' WITH GRANT OPTION"
        );
        assert_eq!(
            r("CREATE USER u IDENTIFIED WITH mysql_native_password BY 'pw'"),
            "CREATE USER u IDENTIFIED WITH mysql_native_password BY '<redacted>'"
        );
        assert_eq!(
            r("CREATE USER u IDENTIFIED WITH caching_sha2_password AS '$A$005$hash'"),
            "CREATE USER u IDENTIFIED WITH caching_sha2_password AS '<redacted>'"
        );
        assert_eq!(
            r("CREATE USER u IDENTIFIED VIA ed25519 USING PASSWORD('pw')"),
            "CREATE USER u IDENTIFIED VIA ed25519 USING PASSWORD('<redacted>')"
        );
        assert_eq!(
            r("CREATE USER u IDENTIFIED BY PASSWORD '*ABCDEF'"),
            "CREATE USER u IDENTIFIED BY PASSWORD '<redacted>'"
        );
        assert_eq!(r("SET PASSWORD FOR 'u'@'h' = 'plain'"), "SET PASSWORD FOR 'u'@'h' = '<redacted>'");
        assert_eq!(r("set password = old_password('x')"), "set password = old_password('<redacted>')");
        assert_eq!(r("CREATE USER u IDENTIFIED BY secretword"), "CREATE USER u IDENTIFIED BY <redacted>");
        assert_eq!(r("CREATE USER u IDENTIFIED BY RANDOM PASSWORD"), "CREATE USER u IDENTIFIED BY RANDOM PASSWORD");
        assert_eq!(r("CREATE USER u IDENTIFIED BY _utf8mb4'pw'"), "CREATE USER u IDENTIFIED BY _utf8mb4'<redacted>'");
    }

    #[test]
    fn replication_and_servers() {
        assert_eq!(
            r("CHANGE MASTER TO MASTER_USER='r', MASTER_PASSWORD='pw'"),
            "CHANGE MASTER TO MASTER_USER='r', MASTER_PASSWORD='<redacted>'"
        );
        assert_eq!(
            r("CREATE SERVER s FOREIGN DATA WRAPPER mysql OPTIONS (USER 'r', PASSWORD 'pw')"),
            "CREATE SERVER s FOREIGN DATA WRAPPER mysql OPTIONS (USER 'r', PASSWORD '<redacted>')"
        );
    }

    #[test]
    fn unterminated_and_escaped() {
        assert_eq!(r("CREATE USER u IDENTIFIED BY 'abc"), "CREATE USER u IDENTIFIED BY '<redacted>'");
        assert_eq!(
            r(r"CREATE USER u IDENTIFIED BY 'a\'b' ; SELECT 1"),
            "CREATE USER u IDENTIFIED BY '<redacted>' ; SELECT 1"
        );
        assert_eq!(r("CREATE USER u IDENTIFIED BY 'a''b'"), "CREATE USER u IDENTIFIED BY '<redacted>'");
    }

    #[test]
    fn leaves_decoys_alone() {
        for s in [
            "SELECT 'IDENTIFIED BY x' FROM t",
            "SELECT password FROM users WHERE id = 3",
            "SELECT * FROM t WHERE note = 'PASSWORD(1)'",
            "ALTER USER u PASSWORD EXPIRE",
            "/* identified by 'x' */ SELECT 1",
        ] {
            assert_eq!(r(s), s);
        }
    }

    #[test]
    fn comments_and_case() {
        assert_eq!(
            r("/*!80000 create user u identified by 'x' */"),
            "/*!80000 create user u identified by '<redacted>' */"
        );
        assert_eq!(r("CREATE USER u IDENTIFIED /* c */ BY\n'pw'"), "CREATE USER u IDENTIFIED /* c */ BY\n'<redacted>'");
    }
}
