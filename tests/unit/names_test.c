/* names_test.c — how table and namespace names compare (case folded, the
 * first spelling kept), reserved namespaces, lookups in trees (including
 * trees written before the rule, holding `t` and `T`), and the spelling of
 * `default.` for DuckDB. */
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "catalog/names.h"
#include "sql/lexer.h"
#include "testlib.h"

static void test_compare(void)
{
    CHECK_EQ_INT(tarn__name_cmp("Countries", "countries"), 0);
    CHECK_EQ_INT(tarn__name_cmp("default.T", "DEFAULT.t"), 0);
    CHECK(tarn__name_cmp("a", "b") < 0);
    CHECK(tarn__name_cmp("B", "a") > 0); /* folded: b > a, unlike strcmp */
    CHECK(tarn__name_cmp("t", "t2") < 0);
    /* '_' sorts as SQLite's NOCASE and tolower() put it: before letters */
    CHECK(tarn__name_cmp("a_b", "aab") < 0);
    CHECK(tarn__name_cmp("A_B", "aab") < 0);
    /* a total order: same name, told apart by bytes */
    CHECK(tarn__name_order("T", "t") < 0);
    CHECK(tarn__name_order("t", "T") > 0);
    CHECK_EQ_INT(tarn__name_order("t", "t"), 0);
    CHECK_EQ_INT(tarn__name_ncmp("Sales.x", "sales", 5), 0);
    CHECK(tarn__name_in_namespace("sales.x", "Sales"));
    CHECK(tarn__name_in_namespace("SALES.x", "sales"));
    CHECK(!tarn__name_in_namespace("salesx.y", "sales"));
    CHECK(!tarn__name_in_namespace("sale.y", "sales"));
}

static void test_reserved(void)
{
    const char *reserved[] = {"main",       "temp", "system",    "memory", "information_schema",
                              "pg_catalog", "MAIN", "Pg_Catalog"};
    tarn_error err = TARN_ERROR_INIT;
    for (size_t i = 0; i < sizeof reserved / sizeof *reserved; i++) {
        CHECK(tarn__name_reserved(reserved[i], strlen(reserved[i])));
        CHECK_EQ_INT(tarn_name_check_namespace(reserved[i], &err), TARN_EINVALID);
        CHECK(strstr(err.message, "reserved") != NULL);
        char table[64];
        snprintf(table, sizeof table, "%s.t", reserved[i]);
        CHECK_EQ_INT(tarn_name_check_table(table, &err), TARN_EINVALID);
        CHECK(strstr(err.message, "choose another name") != NULL);
    }
    CHECK_EQ_INT(tarn_name_check_namespace("maine", &err), 0);
    CHECK_EQ_INT(tarn_name_check_table("default.main", &err), 0); /* a table may be called main */
    CHECK_EQ_INT(tarn_name_check_table("main", &err), 0);
    CHECK_EQ_INT(tarn_name_check_table("mainly.t", &err), 0);
    tarn_error_clear(&err);
}

static tarn_tree tree_of(const char *const *names, size_t n)
{
    tarn_tree t = {0};
    for (size_t i = 0; i < n; i++)
        tarn__tree_set(&t, names[i], TARN_ENTRY_TABLE, names[i]);
    return t;
}

static void test_tree_lookup(void)
{
    const char *names[] = {"default.countries", "default.apple", "geo.Cities", "default.Zed"};
    tarn_tree t = tree_of(names, 4);
    CHECK_EQ_INT(t.n, 4);
    /* sorted as names compare: apple, countries, Zed, then geo */
    CHECK_EQ_STR(t.entries[0].name, "default.apple");
    CHECK_EQ_STR(t.entries[2].name, "default.Zed");
    tarn_tree_entry *e = tarn__tree_find(&t, "DEFAULT.Countries");
    REQUIRE(e);
    CHECK_EQ_STR(e->name, "default.countries");
    CHECK(tarn__tree_find(&t, "geo.cities") != NULL);
    CHECK(tarn__tree_find(&t, "default.zed") != NULL);
    CHECK(tarn__tree_find(&t, "default.country") == NULL);
    /* setting T where t exists changes t, keeping the first spelling */
    tarn__tree_set(&t, "default.COUNTRIES", TARN_ENTRY_TABLE, "v2");
    CHECK_EQ_INT(t.n, 4);
    e = tarn__tree_find(&t, "default.countries");
    CHECK_EQ_STR(e->name, "default.countries");
    CHECK_EQ_STR(e->version, "v2");
    CHECK_EQ_INT(tarn__tree_remove(&t, "Default.Apple"), 1);
    CHECK_EQ_INT(t.n, 3);
    tarn__tree_clear(&t);
}

/* A tree stored before names compared case folded may hold t and T. */
static void test_legacy_tree(void)
{
    tarn_tree t = {0};
    /* built as tree_load leaves it: sorted by tarn__name_order */
    const char *sorted[] = {"default.a", "default.T", "default.t", "default.u"};
    t.n = t.cap = 4;
    t.entries = calloc(4, sizeof *t.entries);
    for (size_t i = 0; i < 4; i++) {
        t.entries[i].name = strdup(sorted[i]);
        t.entries[i].kind = TARN_ENTRY_TABLE;
        snprintf(t.entries[i].version, sizeof t.entries[i].version, "v%zu", i);
    }
    for (size_t i = 1; i < 4; i++)
        CHECK(tarn__name_order(sorted[i - 1], sorted[i]) < 0);
    /* the exact spelling wins; other spellings find one of them */
    CHECK_EQ_STR(tarn__tree_find(&t, "default.t")->version, "v2");
    CHECK_EQ_STR(tarn__tree_find(&t, "default.T")->version, "v1");
    CHECK(tarn__tree_find(&t, "DEFAULT.T") != NULL);
    CHECK_EQ_STR(tarn__tree_find(&t, "default.U")->version, "v3");
    /* SQL cannot tell them apart: a lookup by name says so, unless the
     * statement writes the name one way only, and exactly */
    tarn_tree_entry *e = (tarn_tree_entry *)1;
    tarn_error err = TARN_ERROR_INIT;
    CHECK_EQ_INT(tarn__name_lookup(&e, &t, "default.t", 0, &err), TARN_EINVALID);
    CHECK(e == NULL);
    CHECK(strstr(err.message, "'default.T'") && strstr(err.message, "'default.t'"));
    CHECK(strstr(err.message, "differ only by case") != NULL);
    CHECK_EQ_INT(tarn__name_lookup(&e, &t, "default.T", 1, &err), 0);
    CHECK_EQ_STR(e->version, "v1");
    CHECK_EQ_INT(tarn__name_lookup(&e, &t, "DEFAULT.T", 1, &err), TARN_EINVALID);
    CHECK_EQ_INT(tarn__name_lookup(&e, &t, "default.A", 0, &err), 0);
    CHECK_EQ_STR(e->name, "default.a");
    CHECK_EQ_INT(tarn__name_lookup(&e, &t, "default.b", 0, &err), 0);
    CHECK(e == NULL);
    /* removing by exact name removes that one */
    CHECK_EQ_INT(tarn__tree_remove(&t, "default.T"), 1);
    CHECK_EQ_STR(tarn__tree_find(&t, "DEFAULT.T")->version, "v2");
    CHECK_EQ_INT(tarn__name_lookup(&e, &t, "default.T", 0, &err), 0);
    tarn_error_clear(&err);
    tarn__tree_clear(&t);
}

static void check_spell(const char *in, const char *want)
{
    char *got = tarn__sql_spell_default(in);
    CHECK_EQ_STR(got, want);
    free(got);
}

static void test_spell_default(void)
{
    check_spell("SELECT * FROM default.t", "SELECT * FROM main.t");
    check_spell("SELECT * FROM \"default\".t", "SELECT * FROM \"main\".t");
    check_spell("SELECT 1\"default\".t.c, x\"DEFAULT\".t FROM t",
                "SELECT 1\"main\".t.c, x\"main\".t FROM t");
    check_spell("SELECT * FROM DEFAULT . t", "SELECT * FROM main . t");
    check_spell("SELECT default.t.id FROM default.t", "SELECT main.t.id FROM main.t");
    check_spell("SELECT * FROM Default/* c */.t", "SELECT * FROM main/* c */.t");
    /* not a qualifier: left alone */
    check_spell("SELECT 'default.t', \"default.t\" FROM t",
                "SELECT 'default.t', \"default.t\" FROM t");
    check_spell("SELECT s.default.x FROM t -- default.t", "SELECT s.default.x FROM t -- default.t");
    check_spell("SELECT E'it\\'s default.t' FROM t", "SELECT E'it\\'s default.t' FROM t");
    check_spell("SELECT $$default.t$$, $q$ default.x $q$ FROM t",
                "SELECT $$default.t$$, $q$ default.x $q$ FROM t");
    check_spell("SELECT 1 /* a /* nested */ default.t */ FROM t",
                "SELECT 1 /* a /* nested */ default.t */ FROM t");
    check_spell("SELECT defaults.t, x.default FROM defaults",
                "SELECT defaults.t, x.default FROM defaults");
    check_spell("", "");
    check_spell("'unterminated default.t", "'unterminated default.t");
}

static void test_tokens(void)
{
    const char *sql = "SELECT $who, 'it''s' -- c\n\"q\"\"x\" $$d$$ 1.5";
    size_t len = strlen(sql), pos = 0;
    tarn_sql_token t;
    int kinds[16], n = 0;
    while (n < 16 && tarn__sql_token(&t, sql, len, pos)) {
        CHECK_EQ_INT(t.start, pos);
        CHECK(t.end > t.start);
        if (t.kind != TARN_TOK_SPACE) kinds[n++] = (int)t.kind;
        pos = t.end;
    }
    CHECK_EQ_INT(pos, len);
    int want[] = {TARN_TOK_WORD,    TARN_TOK_PARAM,  TARN_TOK_OTHER,  TARN_TOK_STRING,
                  TARN_TOK_COMMENT, TARN_TOK_QUOTED, TARN_TOK_STRING, TARN_TOK_OTHER};
    CHECK_EQ_INT(n, 8);
    for (int i = 0; i < n && i < 8; i++)
        CHECK_EQ_INT(kinds[i], want[i]);
}

int main(void)
{
    TEST_RUN(test_compare);
    TEST_RUN(test_reserved);
    TEST_RUN(test_tree_lookup);
    TEST_RUN(test_legacy_tree);
    TEST_RUN(test_spell_default);
    TEST_RUN(test_tokens);
    return test_summary();
}
