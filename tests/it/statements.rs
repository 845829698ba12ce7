//! Every SQL statement of the storage layer, prepared on a migrated SQLite
//! and a migrated PostgreSQL database: a statement that one of them cannot
//! parse, or that names a table or column the migrations do not create,
//! fails here rather than when a rarely taken path first runs.
//!
//! The statements are read from the source (`src/storage/*.rs`, parsed with
//! `syn`): the first argument of every `sqlx::query`/`query_as`/
//! `query_scalar` call, of `begin_with`, and of `execute` on a connection,
//! evaluated as far as the code says — string literals, constants (also
//! those of other storage files), `format!` with its arguments, `let`
//! bindings, `for` loops over arrays, both arms of a backend `match` or
//! `if` (each prepared on its own backend only), a function's parameter by
//! the arguments of its callers, and the `$n` list helpers with two
//! entries. Anything else is a failure naming the file and function, unless
//! its function is listed in [`SCENARIOS`] (with what the code would build)
//! or in [`EXEMPT`]. The number of query calls found in the syntax tree must
//! equal the number of `sqlx::query` calls in the text, so a call the walk
//! cannot see fails too. `OFFICEHOURS_PRINT_STATEMENTS=1` lists them all.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::str::FromStr;

use quote::ToTokens;
use sqlx::{Connection, Executor};
use syn::punctuated::Punctuated;
use syn::visit::{self, Visit};
use syn::{Expr, Lit, Token};

use crate::support;

/// Functions that run SQL they are given by callers outside storage.
const EXEMPT: &[(&str, &str, &str)] = &[
    ("mod.rs", "execute_raw", "runs one statement its caller (tooling, tests) passes"),
    ("queue.rs", "claim", QUEUE_SQL),
    ("queue.rs", "finished", QUEUE_SQL),
    ("queue.rs", "failed", QUEUE_SQL),
    ("queue.rs", "pending", QUEUE_SQL),
];

const QUEUE_SQL: &str = "its SQL is `Queue::statements()`, prepared below for every queue";

/// The scan, with every durable queue's statements added (their SQL is
/// built by `Queue`, which the walk does not follow).
fn scan_with_queues(source: &Source) -> Scan {
    let mut found = scan(source);
    for (sql, only) in queue_statements() {
        let site = Site { file: "queue.rs".into(), function: "Queue::statements".into() };
        found.statements.entry((sql, only)).or_default().insert(site);
    }
    found
}

/// Every durable queue's statements, as the code builds them (the claim
/// differs per database).
fn queue_statements() -> Vec<(String, Only)> {
    use officehours::storage::{Backend, DELIVERIES, MAIL_OUTBOX};
    let mut all: Vec<(String, Only)> =
        MAIL_OUTBOX.statements().into_iter().chain(DELIVERIES.statements()).map(|sql| (sql, Only::Both)).collect();
    for (backend, only) in [(Backend::Sqlite, Only::Sqlite), (Backend::Postgres, Only::Postgres)] {
        all.push((MAIL_OUTBOX.claim_statement(backend), only));
        all.push((DELIVERIES.claim_statement(backend), only));
    }
    all
}

/// The values of expressions, by their text (without spaces).
type Scenario = &'static [(&'static str, &'static str)];

/// Functions whose SQL is assembled at run time in a way the walk does not
/// follow (filters appended one by one, parameters numbered as they are
/// pushed): the values of the expressions it cannot evaluate, one map per
/// variant prepared. Every literal fragment of such a function must appear
/// in one of its prepared statements, so an edit to the code that is not
/// reflected here fails.
const SCENARIOS: &[(&str, &str, &[Scenario])] = &[
    // A fan-out's rows: two inboxes.
    ("follows.rs", "insert_fanout", &[&[("values", "($1, $2, $5, $3, $4, $4, $6), ($1, $2, $7, $3, $4, $4, $8)")]]),
    (
        "advisors.rs",
        "search_advisors",
        &[
            // No filter.
            &[
                ("filter", " FROM users u WHERE u.is_advisor = TRUE AND u.suspended_at IS NULL"),
                ("params.len()+1", "1"),
                ("params.len()+2", "2"),
            ],
            // Every filter: karma, one term, a category.
            &[
                (
                    "filter",
                    " FROM users u WHERE u.is_advisor = TRUE AND u.suspended_at IS NULL \
                 AND (SELECT COALESCE(SUM(k.points), 0) FROM karma_events k WHERE k.user_id = u.id) >= -10 \
                 AND (LOWER(u.username) LIKE $1 ESCAPE '\\' OR LOWER(u.display_name) LIKE $1 ESCAPE '\\' \
                 OR LOWER(u.headline) LIKE $1 ESCAPE '\\' OR LOWER(u.bio) LIKE $1 ESCAPE '\\' \
                 OR EXISTS (SELECT 1 FROM advisor_topics t WHERE t.user_id = u.id AND LOWER(t.topic) LIKE $1 ESCAPE '\\')) \
                 AND EXISTS (SELECT 1 FROM advisor_categories ac JOIN categories c ON c.id = ac.category_id \
                 WHERE ac.user_id = u.id AND c.slug = $2)",
                ),
                ("params.len()+1", "3"),
                ("params.len()+2", "4"),
            ],
        ],
    ),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Only {
    Both,
    Sqlite,
    Postgres,
}

impl Only {
    fn and(self, other: Only) -> Option<Only> {
        match (self, other) {
            (Only::Both, x) | (x, Only::Both) => Some(x),
            (a, b) if a == b => Some(a),
            _ => None,
        }
    }
}

type Values = Vec<(String, Only)>;

#[derive(Clone)]
enum Unresolved {
    /// A parameter of the function: its callers say what it is.
    Param(String),
    /// Something the walk does not evaluate (its tokens, without spaces).
    Expr(String),
}

#[derive(Clone)]
enum Binding {
    One(Expr),
    Any(Vec<Expr>),
}

struct FnDef {
    file: String,
    name: String,
    params: Vec<String>,
    block: syn::Block,
}

/// The storage files, their constants and functions.
struct Source {
    files: BTreeMap<String, String>,
    consts: HashMap<(String, String), Expr>,
    fns: Vec<FnDef>,
}

/// Where a statement was found.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Site {
    file: String,
    function: String,
}

/// One SQL call site: what its statement evaluated to.
struct Found {
    site: Site,
    sqlx_call: bool,
    result: Result<Values, Unresolved>,
}

/// A call of any function, to instantiate the callee's parameters.
struct Call {
    callee: String,
    args: Vec<Expr>,
    env: Env,
}

#[derive(Clone)]
struct Env {
    file: String,
    function: String,
    params: HashMap<String, Option<Vec<String>>>,
    locals: Vec<(String, Binding)>,
    scenario: HashMap<String, String>,
}

fn text_of(tokens: &impl ToTokens) -> String {
    tokens.to_token_stream().to_string().chars().filter(|c| !c.is_whitespace()).collect()
}

impl Source {
    fn read() -> Source {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/storage");
        let mut files = BTreeMap::new();
        let mut consts = HashMap::new();
        let mut fns = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).unwrap();
            let parsed = syn::parse_file(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            let mut add_fn = |sig: &syn::Signature, block: &syn::Block| {
                let params = sig
                    .inputs
                    .iter()
                    .filter_map(|arg| match arg {
                        syn::FnArg::Typed(t) => Some(match &*t.pat {
                            syn::Pat::Ident(i) => i.ident.to_string(),
                            other => text_of(other),
                        }),
                        syn::FnArg::Receiver(_) => None,
                    })
                    .collect();
                fns.push(FnDef { file: name.clone(), name: sig.ident.to_string(), params, block: block.clone() });
            };
            for item in &parsed.items {
                match item {
                    syn::Item::Const(c) => {
                        consts.insert((name.clone(), c.ident.to_string()), (*c.expr).clone());
                    }
                    syn::Item::Fn(f) => add_fn(&f.sig, &f.block),
                    syn::Item::Impl(i) => {
                        for item in &i.items {
                            if let syn::ImplItem::Fn(f) = item {
                                add_fn(&f.sig, &f.block);
                            }
                        }
                    }
                    // Unit tests inside storage files run no SQL of their own.
                    _ => {}
                }
            }
            files.insert(name, text);
        }
        Source { files, consts, fns }
    }

    fn eval(&self, expr: &Expr, env: &Env) -> Result<Values, Unresolved> {
        let unresolved = || Unresolved::Expr(text_of(expr));
        if let Some(value) = env.scenario.get(&text_of(expr)) {
            return Ok(vec![(value.clone(), Only::Both)]);
        }
        match expr {
            Expr::Lit(lit) => match &lit.lit {
                Lit::Str(s) => Ok(vec![(s.value(), Only::Both)]),
                _ => Err(unresolved()),
            },
            Expr::Reference(r) => self.eval(&r.expr, env),
            Expr::Paren(p) => self.eval(&p.expr, env),
            Expr::Group(g) => self.eval(&g.expr, env),
            Expr::Unary(u) if matches!(u.op, syn::UnOp::Deref(_)) => self.eval(&u.expr, env),
            Expr::Closure(c) => self.eval(&c.body, env),
            Expr::Block(b) => match b.block.stmts.last() {
                Some(syn::Stmt::Expr(e, None)) => self.eval(e, env),
                _ => Err(unresolved()),
            },
            Expr::MethodCall(m)
                if m.args.is_empty()
                    && ["as_str", "to_string", "to_owned", "clone", "into"]
                        .contains(&m.method.to_string().as_str()) =>
            {
                self.eval(&m.receiver, env)
            }
            Expr::Match(m) => {
                let mut out = Vec::new();
                for arm in &m.arms {
                    let only = backend_of(&text_of(&arm.pat));
                    for (sql, o) in self.eval(&arm.body, env)? {
                        if let Some(o) = o.and(only) {
                            out.push((sql, o));
                        }
                    }
                }
                Ok(out)
            }
            Expr::If(i) => {
                let only = backend_of(&text_of(&i.cond));
                let mut out = Vec::new();
                let then = Expr::Block(syn::ExprBlock { attrs: vec![], label: None, block: i.then_branch.clone() });
                for (sql, o) in self.eval(&then, env)? {
                    out.extend(o.and(only).map(|o| (sql, o)));
                }
                let Some((_, other)) = &i.else_branch else { return Err(unresolved()) };
                let otherwise = match only {
                    Only::Sqlite => Only::Postgres,
                    Only::Postgres => Only::Sqlite,
                    Only::Both => Only::Both,
                };
                for (sql, o) in self.eval(other, env)? {
                    out.extend(o.and(otherwise).map(|o| (sql, o)));
                }
                Ok(out)
            }
            Expr::Path(p) => {
                let segments: Vec<String> = p.path.segments.iter().map(|s| s.ident.to_string()).collect();
                match segments.as_slice() {
                    [name] => self.ident(name, env).unwrap_or_else(|| Err(unresolved())),
                    [.., module, name] => match self.consts.get(&(format!("{module}.rs"), name.clone())) {
                        Some(e) => self.eval(e, &env.in_file(&format!("{module}.rs"))),
                        None => Err(unresolved()),
                    },
                    [] => Err(unresolved()),
                }
            }
            Expr::Call(call) => {
                let Expr::Path(func) = &*call.func else { return Err(unresolved()) };
                let name = func.path.segments.last().map(|s| s.ident.to_string()).unwrap_or_default();
                let args: Vec<&Expr> = call.args.iter().collect();
                match (name.as_str(), args.as_slice()) {
                    // `String::from("…")`, `LazyLock::new(|| …)`
                    ("from" | "new", [arg]) => self.eval(arg, env),
                    ("placeholders", [first, count]) => Ok(counts(count)
                        .into_iter()
                        .map(|n| (placeholders(int(first).expect("a literal first number"), n), Only::Both))
                        .collect()),
                    ("value_rows", [first, rows, width]) => {
                        let width = int(width).expect("a literal row width");
                        let first = int(first).expect("a literal first number");
                        Ok(counts(rows)
                            .into_iter()
                            .map(|n| {
                                let rows: Vec<String> =
                                    (0..n).map(|r| format!("({})", placeholders(first + r * width, width))).collect();
                                (rows.join(", "), Only::Both)
                            })
                            .collect())
                    }
                    ("prefixed_user_columns", [alias]) => {
                        let columns = self.ident("USER_COLUMNS", &env.in_file("accounts.rs")).unwrap()?;
                        let mut out = Vec::new();
                        for (alias, o) in self.eval(alias, env)? {
                            for (columns, c) in &columns {
                                let list: Vec<String> =
                                    columns.split(',').map(|c| format!("{alias}.{}", c.trim())).collect();
                                out.extend(o.and(*c).map(|o| (list.join(", "), o)));
                            }
                        }
                        Ok(out)
                    }
                    _ => Err(unresolved()),
                }
            }
            Expr::Macro(m) if m.mac.path.is_ident("format") => self.format(&m.mac, env),
            _ => Err(unresolved()),
        }
    }

    /// A name: the latest local binding, a parameter, a constant of this
    /// file, or the one constant of that name in storage.
    fn ident(&self, name: &str, env: &Env) -> Option<Result<Values, Unresolved>> {
        if let Some(at) = env.locals.iter().rposition(|(n, _)| n == name) {
            // Evaluated with the bindings made before it (`let x = x…`).
            let before = Env { locals: env.locals[..at].to_vec(), ..env.clone() };
            return Some(match &env.locals[at].1 {
                Binding::One(e) => self.eval(e, &before),
                Binding::Any(list) => {
                    let mut out = Vec::new();
                    for e in list {
                        match self.eval(e, &before) {
                            Ok(values) => out.extend(values),
                            Err(err) => return Some(Err(err)),
                        }
                    }
                    Ok(out)
                }
            });
        }
        if let Some(bound) = env.params.get(name) {
            return Some(match bound {
                Some(values) => Ok(values.iter().map(|v| (v.clone(), Only::Both)).collect()),
                None => Err(Unresolved::Param(name.to_string())),
            });
        }
        if let Some(e) = self.consts.get(&(env.file.clone(), name.to_string())) {
            return Some(self.eval(e, &env.in_file(&env.file)));
        }
        let global: Vec<_> = self.consts.iter().filter(|((_, n), _)| n == name).collect();
        match global.as_slice() {
            [((file, _), e)] => Some(self.eval(e, &env.in_file(file))),
            _ => None,
        }
    }

    fn format(&self, mac: &syn::Macro, env: &Env) -> Result<Values, Unresolved> {
        let args = mac
            .parse_body_with(Punctuated::<Expr, Token![,]>::parse_terminated)
            .map_err(|_| Unresolved::Expr(text_of(mac)))?;
        let mut args = args.into_iter();
        let Some(Expr::Lit(syn::ExprLit { lit: Lit::Str(template), .. })) = args.next() else {
            return Err(Unresolved::Expr(text_of(mac)));
        };
        let mut positional = Vec::new();
        let mut named = HashMap::new();
        for arg in args {
            match arg {
                Expr::Assign(a) => {
                    named.insert(text_of(&a.left), *a.right);
                }
                other => positional.push(other),
            }
        }
        // The template as text pieces and the values between them.
        let template = template.value();
        let mut pieces: Vec<Values> = Vec::new();
        let mut text = String::new();
        let mut next = 0;
        let mut chars = template.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    text.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    text.push('}');
                }
                '{' => {
                    let mut spec = String::new();
                    for c in chars.by_ref() {
                        if c == '}' {
                            break;
                        }
                        spec.push(c);
                    }
                    let key = spec.split(':').next().unwrap_or_default().to_string();
                    let values = if key.is_empty() {
                        next += 1;
                        self.eval(&positional[next - 1], env)?
                    } else if let Ok(i) = key.parse::<usize>() {
                        self.eval(&positional[i], env)?
                    } else if let Some(e) = named.get(&key) {
                        self.eval(e, env)?
                    } else if let Some(value) = env.scenario.get(&key) {
                        vec![(value.clone(), Only::Both)]
                    } else {
                        self.ident(&key, env).unwrap_or(Err(Unresolved::Expr(key.clone())))?
                    };
                    pieces.push(vec![(std::mem::take(&mut text), Only::Both)]);
                    pieces.push(values);
                }
                c => text.push(c),
            }
        }
        pieces.push(vec![(text, Only::Both)]);
        let mut out: Values = vec![(String::new(), Only::Both)];
        for piece in pieces {
            let mut grown = Vec::new();
            for (head, a) in &out {
                for (tail, b) in &piece {
                    if let Some(only) = a.and(*b) {
                        grown.push((format!("{head}{tail}"), only));
                    }
                }
            }
            out = grown;
        }
        Ok(out)
    }
}

impl Env {
    fn in_file(&self, file: &str) -> Env {
        Env {
            file: file.to_string(),
            function: self.function.clone(),
            params: HashMap::new(),
            locals: Vec::new(),
            scenario: HashMap::new(),
        }
    }
}

/// The backend a condition or pattern names, if any.
fn backend_of(text: &str) -> Only {
    if text.contains("Backend::Postgres") {
        Only::Postgres
    } else if text.contains("Backend::Sqlite") {
        Only::Sqlite
    } else {
        Only::Both
    }
}

fn int(expr: &Expr) -> Option<usize> {
    match expr {
        Expr::Lit(syn::ExprLit { lit: Lit::Int(i), .. }) => i.base10_parse().ok(),
        _ => None,
    }
}

/// A literal count, else two entries (so the separator is in the statement;
/// one value for every use, as one list is usually used more than once).
fn counts(expr: &Expr) -> Vec<usize> {
    vec![int(expr).unwrap_or(2)]
}

fn placeholders(first: usize, count: usize) -> String {
    (first..first + count).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

const SQLX_CALLS: &[&str] =
    &["query", "query_as", "query_scalar", "query_with", "query_as_with", "query_scalar_with", "raw_sql"];

/// Walks one function body in source order, keeping its bindings.
struct Walk<'a> {
    source: &'a Source,
    env: Env,
    only: Only,
    found: Vec<Found>,
    calls: Vec<Call>,
    literals: Vec<String>,
}

impl Walk<'_> {
    fn site(&self) -> Site {
        Site { file: self.env.file.clone(), function: self.env.function.clone() }
    }

    fn record(&mut self, sql: &Expr, sqlx_call: bool) {
        let result = self
            .source
            .eval(sql, &self.env)
            .map(|values| values.into_iter().filter_map(|(sql, o)| o.and(self.only).map(|o| (sql, o))).collect());
        self.found.push(Found { site: self.site(), sqlx_call, result });
    }

    fn scoped(&mut self, f: impl FnOnce(&mut Self)) {
        let (locals, only) = (self.env.locals.len(), self.only);
        f(self);
        self.env.locals.truncate(locals);
        self.only = only;
    }
}

/// Whether a method's argument is a statement rather than an executor
/// (`&mut *tx`, `self.pool()`, `self.writer()`).
fn is_statement(arg: &Expr) -> bool {
    let text = text_of(arg);
    !(text.starts_with("&mut") || text.contains("pool") || text.contains("writer"))
}

impl<'ast> Visit<'ast> for Walk<'_> {
    fn visit_local(&mut self, local: &'ast syn::Local) {
        visit::visit_local(self, local);
        let name = match &local.pat {
            syn::Pat::Ident(i) => i.ident.to_string(),
            syn::Pat::Type(t) => match &*t.pat {
                syn::Pat::Ident(i) => i.ident.to_string(),
                _ => return,
            },
            _ => return,
        };
        if let Some(init) = &local.init {
            self.env.locals.push((name, Binding::One((*init.expr).clone())));
        }
    }

    fn visit_item(&mut self, item: &'ast syn::Item) {
        match item {
            syn::Item::Static(s) => self.env.locals.push((s.ident.to_string(), Binding::One((*s.expr).clone()))),
            syn::Item::Const(c) => self.env.locals.push((c.ident.to_string(), Binding::One((*c.expr).clone()))),
            _ => {}
        }
        visit::visit_item(self, item);
    }

    fn visit_expr_for_loop(&mut self, for_loop: &'ast syn::ExprForLoop) {
        self.visit_expr(&for_loop.expr);
        self.scoped(|walk| {
            if let (syn::Pat::Ident(i), Expr::Array(list)) = (&*for_loop.pat, &*for_loop.expr) {
                walk.env.locals.push((i.ident.to_string(), Binding::Any(list.elems.iter().cloned().collect())));
            }
            walk.visit_block(&for_loop.body);
        });
    }

    fn visit_expr_if(&mut self, expr: &'ast syn::ExprIf) {
        self.visit_expr(&expr.cond);
        let only = backend_of(&text_of(&expr.cond));
        self.scoped(|walk| {
            walk.only = walk.only.and(only).unwrap_or(walk.only);
            walk.visit_block(&expr.then_branch);
        });
        if let Some((_, other)) = &expr.else_branch {
            let otherwise = match only {
                Only::Sqlite => Only::Postgres,
                Only::Postgres => Only::Sqlite,
                Only::Both => Only::Both,
            };
            self.scoped(|walk| {
                walk.only = walk.only.and(otherwise).unwrap_or(walk.only);
                walk.visit_expr(other);
            });
        }
    }

    fn visit_arm(&mut self, arm: &'ast syn::Arm) {
        let only = backend_of(&text_of(&arm.pat));
        self.scoped(|walk| {
            walk.only = walk.only.and(only).unwrap_or(walk.only);
            visit::visit_arm(walk, arm);
        });
    }

    fn visit_expr_call(&mut self, call: &'ast syn::ExprCall) {
        if let Expr::Path(func) = &*call.func
            && let Some(last) = func.path.segments.last()
        {
            let name = last.ident.to_string();
            if SQLX_CALLS.contains(&name.as_str()) {
                if let Some(sql) = call.args.first() {
                    self.record(sql, true);
                }
            } else {
                self.calls.push(Call {
                    callee: name,
                    args: call.args.iter().cloned().collect(),
                    env: self.env.clone(),
                });
            }
        }
        visit::visit_expr_call(self, call);
    }

    fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
        let name = call.method.to_string();
        match (name.as_str(), call.args.first()) {
            ("begin_with", Some(sql)) => self.record(sql, false),
            ("execute" | "fetch" | "fetch_all" | "fetch_one" | "fetch_optional", Some(arg)) if is_statement(arg) => {
                self.record(arg, false)
            }
            _ => {
                self.calls.push(Call { callee: name, args: call.args.iter().cloned().collect(), env: self.env.clone() })
            }
        }
        visit::visit_expr_method_call(self, call);
    }

    fn visit_lit_str(&mut self, lit: &'ast syn::LitStr) {
        self.literals.push(lit.value());
    }

    /// Macro bodies (`format!`, `assert!`) are walked as expressions too.
    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        if let Ok(args) = mac.parse_body_with(Punctuated::<Expr, Token![,]>::parse_terminated) {
            for arg in &args {
                self.visit_expr(arg);
            }
        }
    }
}

struct Scan {
    /// Every statement, with where it was found.
    statements: BTreeMap<(String, Only), BTreeSet<Site>>,
    /// Query calls found in the syntax tree, per file.
    calls_per_file: BTreeMap<String, usize>,
    problems: Vec<String>,
}

fn scan(source: &Source) -> Scan {
    let walk = |def: &FnDef, params: HashMap<String, Option<Vec<String>>>, scenario: HashMap<String, String>| {
        let mut walk = Walk {
            source,
            env: Env { file: def.file.clone(), function: def.name.clone(), params, locals: Vec::new(), scenario },
            only: Only::Both,
            found: Vec::new(),
            calls: Vec::new(),
            literals: Vec::new(),
        };
        walk.visit_block(&def.block);
        walk
    };
    let unbound = |def: &FnDef| def.params.iter().map(|p| (p.clone(), None)).collect::<HashMap<_, _>>();
    let mut out = Scan { statements: BTreeMap::new(), calls_per_file: BTreeMap::new(), problems: Vec::new() };
    let add = |out: &mut Scan, found: Vec<Found>, needs: &mut BTreeSet<String>, excused: bool| {
        for f in found {
            match f.result {
                Ok(values) if values.is_empty() => out.problems.push(format!("{f:?}: no statement", f = f.site)),
                Ok(values) => {
                    for value in values {
                        out.statements.entry(value).or_default().insert(f.site.clone());
                    }
                }
                Err(Unresolved::Param(_)) if !excused => {
                    needs.insert(f.site.function.clone());
                }
                Err(_) if excused => {}
                Err(err) => {
                    let what = match err {
                        Unresolved::Param(name) => format!("the parameter `{name}`"),
                        Unresolved::Expr(text) => format!("`{text}`"),
                    };
                    out.problems.push(format!(
                        "{}::{}: cannot work out the statement ({what}); list the function in SCENARIOS",
                        f.site.file, f.site.function
                    ))
                }
            }
        }
    };
    let mut needs = BTreeSet::new();
    let mut all_calls = Vec::new();
    for def in &source.fns {
        let exempt = EXEMPT.iter().any(|(file, name, _)| *file == def.file && *name == def.name);
        let scenarios = SCENARIOS.iter().find(|(file, name, _)| *file == def.file && *name == def.name);
        let first = walk(def, unbound(def), HashMap::new());
        *out.calls_per_file.entry(def.file.clone()).or_default() += first.found.iter().filter(|f| f.sqlx_call).count();
        all_calls.extend(first.calls);
        match scenarios {
            None => add(&mut out, first.found, &mut needs, exempt),
            Some((_, _, variants)) => {
                let mut prepared = Vec::new();
                for variant in variants.iter() {
                    let scenario = variant.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
                    let walked = walk(def, unbound(def), scenario);
                    for f in &walked.found {
                        if let Ok(values) = &f.result {
                            prepared.extend(values.iter().map(|(sql, _)| squeeze(sql)));
                        }
                    }
                    add(&mut out, walked.found, &mut needs, false);
                }
                // Every literal fragment of the function (outside `{…}`) is
                // in a prepared variant.
                for literal in &first.literals {
                    let outside = literal.split(['{', '}']).step_by(2).map(squeeze);
                    for fragment in outside.filter(|f| f.len() > 3) {
                        if !prepared.iter().any(|sql| sql.contains(&fragment)) {
                            out.problems
                                .push(format!("{}::{}: SCENARIOS do not cover `{fragment}`", def.file, def.name));
                        }
                    }
                }
            }
        }
    }
    // Parameters that carry SQL: instantiated with each caller's arguments.
    for name in needs {
        let Some(def) = source.fns.iter().find(|d| d.name == name) else { continue };
        let callers: Vec<&Call> = all_calls.iter().filter(|c| c.callee == name).collect();
        if callers.is_empty() {
            out.problems.push(format!("{}::{name}: SQL from a parameter, and no caller in storage", def.file));
        }
        for call in callers {
            let mut params = HashMap::new();
            for (param, arg) in def.params.iter().zip(&call.args) {
                let value = source.eval(arg, &call.env).ok().map(|v| v.into_iter().map(|(s, _)| s).collect());
                params.insert(param.clone(), value);
            }
            let walked = walk(def, params, HashMap::new());
            let mut ignored = BTreeSet::new();
            add(&mut out, walked.found, &mut ignored, false);
            for stuck in ignored {
                out.problems.push(format!("{stuck}: a parameter its callers do not give as text"));
            }
        }
    }
    out
}

fn squeeze(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `sqlx::query…(` calls in the text of a file, comments aside.
fn query_calls_in_text(text: &str) -> usize {
    text.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .map(|line| {
            SQLX_CALLS
                .iter()
                .map(|name| {
                    let call = format!("sqlx::{name}(");
                    let turbofish = format!("sqlx::{name}::<");
                    line.matches(call.as_str()).count() + line.matches(turbofish.as_str()).count()
                })
                .sum::<usize>()
        })
        .sum()
}

#[test]
fn the_scan_finds_every_query_call_and_works_out_every_statement() {
    let source = Source::read();
    let scan = scan_with_queues(&source);
    for (file, text) in &source.files {
        let in_text = query_calls_in_text(text);
        let in_tree = scan.calls_per_file.get(file).copied().unwrap_or(0);
        assert_eq!(in_tree, in_text, "{file}: {in_text} sqlx::query… calls in the text, {in_tree} found by the walk");
    }
    assert!(scan.problems.is_empty(), "{:#?}", scan.problems);
    // Each file with queries has statements, and the total is plausible.
    for (file, calls) in &scan.calls_per_file {
        if *calls > 0 {
            assert!(scan.statements.values().flatten().any(|s| &s.file == file), "{file}: no statement found");
        }
    }
    if std::env::var_os("OFFICEHOURS_PRINT_STATEMENTS").is_some() {
        for ((sql, only), sites) in &scan.statements {
            let sites: Vec<String> = sites.iter().map(|s| format!("{}::{}", s.file, s.function)).collect();
            eprintln!("{only:?} {}\n    {sql}", sites.join(", "));
        }
    }
    let total = scan.statements.len();
    assert!(total > 150, "only {total} statements found");
    // The backend-specific ones are told apart.
    let only = |which: Only| scan.statements.keys().filter(|(_, o)| *o == which).count();
    assert!(only(Only::Sqlite) >= 5 && only(Only::Postgres) >= 2, "{} / {}", only(Only::Sqlite), only(Only::Postgres));
}

/// Prepares one statement on PostgreSQL. A parameter PostgreSQL cannot
/// type from its use alone (`$1 IS NULL`, `CASE … THEN $2 ELSE NULL`) is
/// given a type, as the `Any` driver does from the value bound at run time:
/// first each parameter it names as undeterminable, then, when a parameter
/// was taken for text where a number or boolean is needed, one parameter
/// at a time.
async fn prepare_postgres(conn: &mut sqlx::PgConnection, sql: &str) -> Result<(), String> {
    use sqlx::postgres::types::Oid;
    use sqlx::postgres::{PgTypeInfo, Postgres};
    let (int, text, boolean) = (
        <i64 as sqlx::Type<Postgres>>::type_info(),
        <String as sqlx::Type<Postgres>>::type_info(),
        <bool as sqlx::Type<Postgres>>::type_info(),
    );
    let count = (1..100).take_while(|n| sql.contains(&format!("${n}"))).count();
    let mut types: Vec<PgTypeInfo> = vec![PgTypeInfo::with_oid(Oid(0)); count];
    let first_error = match (&mut *conn).prepare_with(sql, &[]).await {
        Ok(_) => return Ok(()),
        Err(err) => err.to_string(),
    };
    let mut error = first_error.clone();
    for _ in 0..count {
        let undeterminable = error
            .split("could not determine data type of parameter $")
            .nth(1)
            .and_then(|rest| rest.chars().take_while(char::is_ascii_digit).collect::<String>().parse::<usize>().ok());
        let Some(n) = undeterminable.filter(|n| (1..=count).contains(n)) else { break };
        for candidate in [&int, &text, &boolean] {
            types[n - 1] = candidate.clone();
            match (&mut *conn).prepare_with(sql, &types).await {
                Ok(_) => return Ok(()),
                Err(err) => error = err.to_string(),
            }
            if !error.contains(&format!("parameter ${n}")) {
                break;
            }
        }
    }
    if error.contains("of type text") || error.contains("text =") || error.contains("= text") {
        for n in 0..count {
            for candidate in [&int, &boolean] {
                let mut typed = types.clone();
                typed[n] = candidate.clone();
                if (&mut *conn).prepare_with(sql, &typed).await.is_ok() {
                    return Ok(());
                }
            }
        }
    }
    Err(first_error)
}

#[tokio::test]
async fn every_storage_statement_prepares_on_both_databases() {
    let source = Source::read();
    let scan = scan_with_queues(&source);
    assert!(scan.problems.is_empty(), "{:#?}", scan.problems);
    let dbs = support::test_databases().await;
    if dbs.len() < 2 {
        support::require("PostgreSQL for preparing every statement", false);
    }
    for db in &dbs {
        db.store().await; // migrated
        let mut failures = Vec::new();
        let mut prepared = 0;
        match db.backend {
            "sqlite" => {
                let options = sqlx::sqlite::SqliteConnectOptions::from_str(&db.url).unwrap();
                let mut conn = sqlx::SqliteConnection::connect_with(&options).await.unwrap();
                for ((sql, only), sites) in &scan.statements {
                    if *only == Only::Postgres {
                        continue;
                    }
                    prepared += 1;
                    if let Err(err) = (&mut conn).prepare(sql.as_str()).await {
                        failures.push(format!("{sites:?}\n  {sql}\n  {err}"));
                    }
                }
                conn.close().await.unwrap();
            }
            _ => {
                let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
                for ((sql, only), sites) in &scan.statements {
                    if *only == Only::Sqlite {
                        continue;
                    }
                    prepared += 1;
                    if let Err(err) = prepare_postgres(&mut conn, sql).await {
                        failures.push(format!("{sites:?}\n  {sql}\n  {err}"));
                    }
                }
                conn.close().await.unwrap();
            }
        }
        eprintln!("[{}] prepared {prepared} statements", db.backend);
        assert!(
            failures.is_empty(),
            "[{}] {} of {prepared} statements fail:\n{}",
            db.backend,
            failures.len(),
            failures.join("\n")
        );
    }
}
