/* catalog/names.c — the rules for branch, tag, namespace and table names,
 * checked before a name reaches SQL, a path or the catalog. */
#include <ctype.h>
#include <string.h>

#include "tarn/ref.h"
#include "util/error.h"

int tarn_name_check_ref(const char *name, tarn_error *err)
{
    if (!name || !*name) return tarn__error_set(err, TARN_EINVALID, "a ref name cannot be empty");
    size_t len = strlen(name);
    if (len > TARN_NAME_MAX)
        return tarn__error_set(err, TARN_EINVALID, "name '%.40s...' is too long (at most %d characters)",
                               name, TARN_NAME_MAX);
    const char *why = NULL;
    if (name[0] == '-') why = "it starts with '-'";
    else if (name[0] == '/' || name[len - 1] == '/') why = "it starts or ends with '/'";
    else if (name[0] == '.' || strstr(name, "/.")) why = "a component starts with '.'";
    else if (name[len - 1] == '.') why = "it ends with '.'";
    else if (strstr(name, "..")) why = "it contains '..'";
    else if (strstr(name, "//")) why = "it contains '//'";
    else if (strstr(name, "@{")) why = "it contains '@{'";
    else if (strcmp(name, "@") == 0) why = "'@' alone is not a name";
    else if (len >= 5 && strcmp(name + len - 5, ".lock") == 0) why = "it ends with '.lock'";
    for (const char *p = name; !why && *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c == 0x7f) why = "it contains a control character";
        else if (c == ' ') why = "it contains a space";
        else if (strchr("~^:?*[\\'\"", c)) why = "it contains one of ~ ^ : ? * [ \\ ' \"";
    }
    if (why) return tarn__error_set(err, TARN_EINVALID, "invalid name '%s': %s", name, why);
    return 0;
}

static int check_identifier(const char *part, size_t len)
{
    if (len == 0 || len > 128) return -1;
    if (isdigit((unsigned char)part[0])) return -1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)part[i];
        if (!(isalnum(c) || c == '_') || c > 0x7f) return -1;
    }
    return 0;
}

int tarn_name_check_namespace(const char *name, tarn_error *err)
{
    if (!name || check_identifier(name, strlen(name)) != 0)
        return tarn__error_set(err, TARN_EINVALID,
                               "invalid namespace name '%s': use letters, digits and '_' "
                               "(not starting with a digit), at most 128 characters",
                               name ? name : "");
    return 0;
}

int tarn_name_check_table(const char *name, tarn_error *err)
{
    const char *dot = name ? strchr(name, '.') : NULL;
    int ok;
    if (!name) ok = 0;
    else if (!dot) ok = check_identifier(name, strlen(name)) == 0;
    else ok = check_identifier(name, (size_t)(dot - name)) == 0 &&
              check_identifier(dot + 1, strlen(dot + 1)) == 0;
    if (!ok)
        return tarn__error_set(err, TARN_EINVALID,
                               "invalid table name '%s': use 'table' or 'namespace.table', each part "
                               "letters, digits and '_' (not starting with a digit)",
                               name ? name : "");
    return 0;
}
