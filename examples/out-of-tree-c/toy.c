/*
 * toy.c - an in-memory "toy" hypervisor for virtkit, written in C against <virtkit/driver.h>
 * and nothing else from virtkit, as a third-party driver would be.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * It serves the single URI toy:///default. All connections share one hypervisor, which lives
 * in this process's memory and starts with one running domain, "toy1" (id 1). Domains are
 * defined from XML, started, paused, resumed, destroyed and undefined following libvirt's state
 * rules. The "XML parsing" is a tiny string search for a handful of elements; real XML belongs
 * to the core, not to this example.
 *
 * Every entry locks the hypervisor, computes its result into locals, unlocks, and only then
 * calls the host's sinks: a host callback never runs under the driver's lock.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <virtkit/driver.h>

#define TOY_URI "toy:///default"
/* The hypervisor version reported by get_version, libvirt-encoded: 0.1.0. */
#define TOY_HV_VERSION ((uint64_t)0 * 1000000 + 1 * 1000 + 0)
#define TOY_MAX_DOMAINS 64
#define TOY_NAME_MAX 64 /* bytes, including the terminating NUL */
#define TOY_MAX_VCPUS 16
#define TOY_MSG_MAX 256
#define TOY_XML_MAX 1024
#define TOY_DEFAULT_MEMORY_KIB ((uint64_t)131072)

#if defined(__GNUC__) || defined(__clang__)
#define TOY_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define TOY_PRINTF(fmt, args)
#endif

/* ------------------------------------------------------------------------------------------ */
/* State                                                                                      */
/* ------------------------------------------------------------------------------------------ */

struct toy_domain {
    int used;
    char name[TOY_NAME_MAX];
    uint8_t uuid[16];
    int32_t id;                /* -1 when inactive */
    uint32_t state;            /* a vk_domain_state */
    uint64_t memory_kib;
    uint32_t vcpus;
    uint64_t cpu_time_ns;      /* accumulated over past running periods */
    uint64_t running_since_ns; /* start of the current running period */
};

struct toy_hv {
    pthread_mutex_t lock;
    int32_t next_id;
    struct toy_domain domains[TOY_MAX_DOMAINS];
};

static struct toy_hv toy_hv = { PTHREAD_MUTEX_INITIALIZER, 1, { { 0 } } };
static pthread_once_t toy_once = PTHREAD_ONCE_INIT;

/* An error computed under the lock and reported after it. code 0: no error. */
struct toy_error {
    int32_t code;
    char message[TOY_MSG_MAX];
};

/* What a sink receives about a domain. */
struct toy_identity {
    int32_t id;
    uint8_t uuid[16];
    char name[TOY_NAME_MAX];
};

static uint64_t toy_now_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void toy_init(void)
{
    static const uint8_t toy1_uuid[16] = { 0x3c, 0x6e, 0x1f, 0x52, 0x9a, 0x07, 0x4d, 0x2b,
                                           0x8e, 0x41, 0x0b, 0x5f, 0xd2, 0x96, 0x7a, 0x13 };
    struct toy_domain *d = &toy_hv.domains[0];

    pthread_mutex_lock(&toy_hv.lock);
    d->used = 1;
    strcpy(d->name, "toy1");
    memcpy(d->uuid, toy1_uuid, sizeof d->uuid);
    d->id = toy_hv.next_id++;
    d->state = VK_DOMAIN_RUNNING;
    d->memory_kib = 524288;
    d->vcpus = 2;
    d->cpu_time_ns = 0;
    d->running_since_ns = toy_now_ns();
    pthread_mutex_unlock(&toy_hv.lock);
}

/* ------------------------------------------------------------------------------------------ */
/* Helpers                                                                                    */
/* ------------------------------------------------------------------------------------------ */

static vk_str toy_str(const char *s)
{
    vk_str v;
    v.ptr = (const uint8_t *)s;
    v.len = strlen(s);
    return v;
}

static int toy_str_eq(vk_str a, const char *b)
{
    size_t n = strlen(b);
    return a.len == n && (n == 0 || memcmp(a.ptr, b, n) == 0);
}

static void toy_error_set(struct toy_error *e, int32_t code, const char *fmt, ...) TOY_PRINTF(3, 4);

static void toy_error_set(struct toy_error *e, int32_t code, const char *fmt, ...)
{
    va_list ap;
    e->code = code;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
}

/* Reports `e` through the host's error sink; returns the status the entry returns. */
static int32_t toy_report(const vk_error_sink *err, const struct toy_error *e)
{
    if (e->code == VK_OK)
        return VK_OK;
    err->set(err->ctx, e->code, toy_str(e->message));
    return e->code;
}

static void toy_uuid_format(const uint8_t uuid[16], char out[37])
{
    static const char hex[] = "0123456789abcdef";
    size_t i, o = 0;
    for (i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[uuid[i] >> 4];
        out[o++] = hex[uuid[i] & 0xf];
    }
    out[o] = '\0';
}

static int toy_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Parses 32 hex digits, dashes allowed anywhere. Returns 0 on success. */
static int toy_uuid_parse(const char *text, size_t len, uint8_t uuid[16])
{
    size_t i, digits = 0;
    for (i = 0; i < len; i++) {
        int v;
        if (text[i] == '-')
            continue;
        v = toy_hex_digit(text[i]);
        if (v < 0 || digits == 32)
            return -1;
        if (digits % 2 == 0)
            uuid[digits / 2] = (uint8_t)(v << 4);
        else
            uuid[digits / 2] |= (uint8_t)v;
        digits++;
    }
    return digits == 32 ? 0 : -1;
}

/* A random (version 4) UUID. Not cryptographic; a toy needs uniqueness, not secrecy. */
static void toy_uuid_generate(uint8_t uuid[16])
{
    static uint64_t counter;
    FILE *f = fopen("/dev/urandom", "rb");
    size_t got = 0;
    if (f) {
        got = fread(uuid, 1, 16, f);
        fclose(f);
    }
    if (got != 16) {
        uint64_t x = toy_now_ns() ^ (++counter * 0x9E3779B97F4A7C15u) ^ (uint64_t)getpid();
        size_t i;
        for (i = 0; i < 16; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            uuid[i] = (uint8_t)x;
        }
    }
    uuid[6] = (uint8_t)((uuid[6] & 0x0f) | 0x40);
    uuid[8] = (uint8_t)((uuid[8] & 0x3f) | 0x80);
}

/* Caller holds the lock. */
static struct toy_domain *toy_find_uuid(const uint8_t uuid[16])
{
    size_t i;
    for (i = 0; i < TOY_MAX_DOMAINS; i++)
        if (toy_hv.domains[i].used && memcmp(toy_hv.domains[i].uuid, uuid, 16) == 0)
            return &toy_hv.domains[i];
    return NULL;
}

/* Whether a domain other than `self` has this UUID. Caller holds the lock. */
static int toy_uuid_taken(const uint8_t uuid[16], const struct toy_domain *self)
{
    size_t i;
    for (i = 0; i < TOY_MAX_DOMAINS; i++) {
        const struct toy_domain *d = &toy_hv.domains[i];
        if (d != self && d->used && memcmp(d->uuid, uuid, 16) == 0)
            return 1;
    }
    return 0;
}

/* Caller holds the lock. */
static struct toy_domain *toy_find_name(const char *name, size_t len)
{
    size_t i;
    for (i = 0; i < TOY_MAX_DOMAINS; i++) {
        struct toy_domain *d = &toy_hv.domains[i];
        if (d->used && strlen(d->name) == len && memcmp(d->name, name, len) == 0)
            return d;
    }
    return NULL;
}

/* The domain the core names, keyed on its UUID. Caller holds the lock. */
static struct toy_domain *toy_find_ref(const vk_domain_ref *ref, struct toy_error *e)
{
    struct toy_domain *d = toy_find_uuid(ref->uuid);
    if (!d) {
        char uuid[37];
        toy_uuid_format(ref->uuid, uuid);
        toy_error_set(e, VK_ERR_NO_DOMAIN, "no domain with matching uuid '%s'", uuid);
    }
    return d;
}

static int toy_is_active(const struct toy_domain *d)
{
    return d->state == VK_DOMAIN_RUNNING || d->state == VK_DOMAIN_PAUSED;
}

static uint64_t toy_cpu_time(const struct toy_domain *d)
{
    if (d->state == VK_DOMAIN_RUNNING)
        return d->cpu_time_ns + (toy_now_ns() - d->running_since_ns);
    return d->cpu_time_ns;
}

static void toy_identity_of(const struct toy_domain *d, struct toy_identity *out)
{
    out->id = d->id;
    memcpy(out->uuid, d->uuid, 16);
    memcpy(out->name, d->name, sizeof out->name);
}

static void toy_put(const vk_domain_sink *out, const struct toy_identity *who)
{
    out->put(out->ctx, who->id, who->uuid, toy_str(who->name));
}

/* ------------------------------------------------------------------------------------------ */
/* The tiny XML search                                                                        */
/* ------------------------------------------------------------------------------------------ */

/* Position of `needle` in xml[from..len), or `len` when absent. */
static size_t toy_find(const char *xml, size_t len, size_t from, const char *needle)
{
    size_t n = strlen(needle), i;
    for (i = from; i + n <= len; i++)
        if (memcmp(xml + i, needle, n) == 0)
            return i;
    return len;
}

static int toy_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * Finds the first element <tag ...>text</tag>. Returns 1 and sets the start tag's attribute
 * text and the trimmed content when found, 0 when absent, -1 when it is not closed.
 */
static int toy_element(const char *xml, size_t len, const char *tag, const char **attrs,
                       size_t *attrs_len, const char **text, size_t *text_len)
{
    char open[32], close[32];
    size_t at = 0, start, gt, end;

    snprintf(open, sizeof open, "<%s", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    for (;;) {
        at = toy_find(xml, len, at, open);
        if (at == len)
            return 0;
        start = at + strlen(open);
        /* <name> but not <nameserver>. */
        if (start < len && (xml[start] == '>' || toy_is_space(xml[start])))
            break;
        at = start;
    }
    gt = toy_find(xml, len, start, ">");
    if (gt == len || xml[gt - 1] == '/')
        return -1;
    end = toy_find(xml, len, gt + 1, close);
    if (end == len)
        return -1;
    *attrs = xml + start;
    *attrs_len = gt - start;
    start = gt + 1;
    while (start < end && toy_is_space(xml[start]))
        start++;
    while (end > start && toy_is_space(xml[end - 1]))
        end--;
    *text = xml + start;
    *text_len = end - start;
    return 1;
}

static int toy_parse_u64(const char *text, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    size_t i;
    if (len == 0)
        return -1;
    for (i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9' || v > (UINT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (uint64_t)(text[i] - '0');
    }
    *out = v;
    return 0;
}

/* KiB per unit of a <memory unit='...'> attribute; 0 when the unit is unknown. */
static uint64_t toy_unit_kib(const char *attrs, size_t len)
{
    static const struct {
        const char *name;
        uint64_t kib;
    } units[] = { { "KiB", 1 }, { "k", 1 }, { "K", 1 }, { "MiB", 1024 }, { "M", 1024 },
                  { "GiB", 1048576 }, { "G", 1048576 } };
    size_t at = toy_find(attrs, len, 0, "unit="), i, vstart, vend;
    char quote;
    if (at == len)
        return 1;
    vstart = at + 5;
    if (vstart >= len || (attrs[vstart] != '\'' && attrs[vstart] != '"'))
        return 0;
    quote = attrs[vstart++];
    for (vend = vstart; vend < len && attrs[vend] != quote; vend++)
        ;
    for (i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strlen(units[i].name) == vend - vstart &&
            memcmp(units[i].name, attrs + vstart, vend - vstart) == 0)
            return units[i].kib;
    return 0;
}

/* A domain definition extracted from XML. */
struct toy_def {
    char name[TOY_NAME_MAX];
    int has_uuid;
    uint8_t uuid[16];
    uint64_t memory_kib;
    uint32_t vcpus;
};

static int toy_parse_def(vk_str xml_str, struct toy_def *def, struct toy_error *e)
{
    const char *xml = (const char *)xml_str.ptr;
    size_t len = xml_str.len, i;
    const char *attrs, *text;
    size_t attrs_len, text_len;
    int found;

    if (len == 0) {
        toy_error_set(e, VK_ERR_INVALID_ARG, "empty domain XML");
        return -1;
    }
    if (toy_find(xml, len, 0, "<domain") == len) {
        toy_error_set(e, VK_ERR_XML_ERROR, "missing <domain> element");
        return -1;
    }

    found = toy_element(xml, len, "name", &attrs, &attrs_len, &text, &text_len);
    if (found <= 0 || text_len == 0) {
        toy_error_set(e, VK_ERR_XML_ERROR, "missing or empty <name> element");
        return -1;
    }
    if (text_len >= TOY_NAME_MAX) {
        toy_error_set(e, VK_ERR_INVALID_ARG, "domain name longer than %d bytes",
                      TOY_NAME_MAX - 1);
        return -1;
    }
    for (i = 0; i < text_len; i++) {
        if (text[i] == '<' || text[i] == '&' || text[i] == '/' || text[i] == '\0') {
            toy_error_set(e, VK_ERR_XML_ERROR,
                          "domain name must not contain '<', '&', '/' or NUL");
            return -1;
        }
    }
    memcpy(def->name, text, text_len);
    def->name[text_len] = '\0';

    def->has_uuid = 0;
    found = toy_element(xml, len, "uuid", &attrs, &attrs_len, &text, &text_len);
    if (found < 0 || (found > 0 && toy_uuid_parse(text, text_len, def->uuid) != 0)) {
        toy_error_set(e, VK_ERR_XML_ERROR, "malformed <uuid> element");
        return -1;
    }
    def->has_uuid = found > 0;

    def->memory_kib = TOY_DEFAULT_MEMORY_KIB;
    found = toy_element(xml, len, "memory", &attrs, &attrs_len, &text, &text_len);
    if (found != 0) {
        uint64_t value, kib = toy_unit_kib(attrs, attrs_len);
        if (found < 0 || kib == 0 || toy_parse_u64(text, text_len, &value) != 0 ||
            value > UINT64_MAX / kib) {
            toy_error_set(e, VK_ERR_XML_ERROR, "malformed <memory> element");
            return -1;
        }
        def->memory_kib = value * kib;
        if (def->memory_kib == 0) {
            toy_error_set(e, VK_ERR_INVALID_ARG, "memory must be positive");
            return -1;
        }
    }

    def->vcpus = 1;
    found = toy_element(xml, len, "vcpu", &attrs, &attrs_len, &text, &text_len);
    if (found != 0) {
        uint64_t value;
        if (found < 0 || toy_parse_u64(text, text_len, &value) != 0) {
            toy_error_set(e, VK_ERR_XML_ERROR, "malformed <vcpu> element");
            return -1;
        }
        if (value == 0 || value > TOY_MAX_VCPUS) {
            toy_error_set(e, VK_ERR_INVALID_ARG, "vcpu count %llu is not between 1 and %d",
                          (unsigned long long)value, TOY_MAX_VCPUS);
            return -1;
        }
        def->vcpus = (uint32_t)value;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Connection entries                                                                         */
/* ------------------------------------------------------------------------------------------ */

static int32_t toy_open(vk_str uri, uint32_t flags, vk_conn *conn_out, const vk_error_sink *err)
{
    (void)flags; /* read-only: the core already refuses mutating calls */
    (void)err;
    if (!toy_str_eq(uri, TOY_URI))
        return VK_DECLINED;
    pthread_once(&toy_once, toy_init);
    *conn_out = &toy_hv;
    return VK_OK;
}

static int32_t toy_close(vk_conn conn)
{
    (void)conn; /* the hypervisor outlives its connections */
    return VK_OK;
}

static int32_t toy_get_type(vk_conn conn, const vk_str_sink *out, const vk_error_sink *err)
{
    (void)conn;
    (void)err;
    out->push(out->ctx, toy_str("TOY"));
    return VK_OK;
}

static int32_t toy_get_version(vk_conn conn, uint64_t *out, const vk_error_sink *err)
{
    (void)conn;
    (void)err;
    *out = TOY_HV_VERSION;
    return VK_OK;
}

static int32_t toy_get_hostname(vk_conn conn, const vk_str_sink *out, const vk_error_sink *err)
{
    char host[256];
    struct toy_error e = { 0, "" };
    (void)conn;
    if (gethostname(host, sizeof host) != 0) {
        toy_error_set(&e, VK_ERR_SYSTEM_ERROR, "cannot get the host name: %s", strerror(errno));
        return toy_report(err, &e);
    }
    host[sizeof host - 1] = '\0';
    out->push(out->ctx, toy_str(host));
    return VK_OK;
}

static int32_t toy_node_get_info(vk_conn conn, vk_node_info *out, const vk_error_sink *err)
{
    static const char model[] = "toy-cpu";
    (void)conn;
    (void)err;
    memset(out, 0, sizeof *out);
    memcpy(out->model, model, sizeof model - 1);
    out->memory_kib = (uint64_t)8 * 1024 * 1024;
    out->cpus = 4;
    out->mhz = 2000;
    out->nodes = 1;
    out->sockets = 1;
    out->cores = 4;
    out->threads = 1;
    return VK_OK;
}

static int32_t toy_list_domains(vk_conn conn, const vk_int_sink *out, const vk_error_sink *err)
{
    int32_t ids[TOY_MAX_DOMAINS];
    size_t i, n = 0;
    (void)conn;
    (void)err;
    pthread_mutex_lock(&toy_hv.lock);
    for (i = 0; i < TOY_MAX_DOMAINS; i++)
        if (toy_hv.domains[i].used && toy_is_active(&toy_hv.domains[i]))
            ids[n++] = toy_hv.domains[i].id;
    pthread_mutex_unlock(&toy_hv.lock);
    for (i = 0; i < n; i++)
        out->push(out->ctx, ids[i]);
    return VK_OK;
}

static int32_t toy_count(int active)
{
    int32_t n = 0;
    size_t i;
    pthread_mutex_lock(&toy_hv.lock);
    for (i = 0; i < TOY_MAX_DOMAINS; i++)
        if (toy_hv.domains[i].used && toy_is_active(&toy_hv.domains[i]) == active)
            n++;
    pthread_mutex_unlock(&toy_hv.lock);
    return n;
}

static int32_t toy_num_of_domains(vk_conn conn, int32_t *out, const vk_error_sink *err)
{
    (void)conn;
    (void)err;
    *out = toy_count(1);
    return VK_OK;
}

static int32_t toy_list_defined_domains(vk_conn conn, const vk_str_sink *out,
                                        const vk_error_sink *err)
{
    char names[TOY_MAX_DOMAINS][TOY_NAME_MAX];
    size_t i, n = 0;
    (void)conn;
    (void)err;
    pthread_mutex_lock(&toy_hv.lock);
    for (i = 0; i < TOY_MAX_DOMAINS; i++)
        if (toy_hv.domains[i].used && !toy_is_active(&toy_hv.domains[i]))
            memcpy(names[n++], toy_hv.domains[i].name, TOY_NAME_MAX);
    pthread_mutex_unlock(&toy_hv.lock);
    for (i = 0; i < n; i++)
        out->push(out->ctx, toy_str(names[i]));
    return VK_OK;
}

static int32_t toy_num_of_defined_domains(vk_conn conn, int32_t *out, const vk_error_sink *err)
{
    (void)conn;
    (void)err;
    *out = toy_count(0);
    return VK_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Lookups                                                                                    */
/* ------------------------------------------------------------------------------------------ */

static int32_t toy_domain_lookup_by_id(vk_conn conn, int32_t id, const vk_domain_sink *out,
                                       const vk_error_sink *err)
{
    struct toy_error e = { 0, "" };
    struct toy_identity who;
    size_t i;
    (void)conn;
    if (id < 0) {
        toy_error_set(&e, VK_ERR_INVALID_ARG, "domain id %d is negative", (int)id);
        return toy_report(err, &e);
    }
    pthread_mutex_lock(&toy_hv.lock);
    for (i = 0; i < TOY_MAX_DOMAINS; i++)
        if (toy_hv.domains[i].used && toy_is_active(&toy_hv.domains[i]) &&
            toy_hv.domains[i].id == id)
            break;
    if (i < TOY_MAX_DOMAINS)
        toy_identity_of(&toy_hv.domains[i], &who);
    else
        toy_error_set(&e, VK_ERR_NO_DOMAIN, "no domain with matching id %d", (int)id);
    pthread_mutex_unlock(&toy_hv.lock);
    if (e.code == VK_OK)
        toy_put(out, &who);
    return toy_report(err, &e);
}

static int32_t toy_domain_lookup_by_uuid(vk_conn conn, const uint8_t uuid[16],
                                         const vk_domain_sink *out, const vk_error_sink *err)
{
    struct toy_error e = { 0, "" };
    struct toy_identity who;
    struct toy_domain *d;
    (void)conn;
    pthread_mutex_lock(&toy_hv.lock);
    d = toy_find_uuid(uuid);
    if (d) {
        toy_identity_of(d, &who);
    } else {
        char text[37];
        toy_uuid_format(uuid, text);
        toy_error_set(&e, VK_ERR_NO_DOMAIN, "no domain with matching uuid '%s'", text);
    }
    pthread_mutex_unlock(&toy_hv.lock);
    if (e.code == VK_OK)
        toy_put(out, &who);
    return toy_report(err, &e);
}

static int32_t toy_domain_lookup_by_name(vk_conn conn, vk_str name, const vk_domain_sink *out,
                                         const vk_error_sink *err)
{
    struct toy_error e = { 0, "" };
    struct toy_identity who;
    struct toy_domain *d;
    (void)conn;
    pthread_mutex_lock(&toy_hv.lock);
    d = toy_find_name((const char *)name.ptr, name.len);
    if (d)
        toy_identity_of(d, &who);
    else
        toy_error_set(&e, VK_ERR_NO_DOMAIN, "no domain with matching name '%.*s'",
                      name.len > 200 ? 200 : (int)name.len,
                      name.len ? (const char *)name.ptr : "");
    pthread_mutex_unlock(&toy_hv.lock);
    if (e.code == VK_OK)
        toy_put(out, &who);
    return toy_report(err, &e);
}

/* ------------------------------------------------------------------------------------------ */
/* Definitions and life cycle                                                                 */
/* ------------------------------------------------------------------------------------------ */

static int32_t toy_domain_define_xml(vk_conn conn, vk_str xml, const vk_domain_sink *out,
                                     const vk_error_sink *err)
{
    struct toy_error e = { 0, "" };
    struct toy_identity who;
    struct toy_def def;
    struct toy_domain *by_name, *by_uuid, *d = NULL;
    char uuid[37];
    size_t i;
    (void)conn;

    if (toy_parse_def(xml, &def, &e) != 0)
        return toy_report(err, &e);

    pthread_mutex_lock(&toy_hv.lock);
    by_name = toy_find_name(def.name, strlen(def.name));
    by_uuid = def.has_uuid ? toy_find_uuid(def.uuid) : NULL;
    if (by_name && def.has_uuid && by_uuid != by_name) {
        toy_uuid_format(by_name->uuid, uuid);
        toy_error_set(&e, VK_ERR_DOM_EXIST, "domain '%s' already exists with uuid %s",
                      by_name->name, uuid);
    } else if (by_uuid && by_uuid != by_name) {
        toy_uuid_format(by_uuid->uuid, uuid);
        toy_error_set(&e, VK_ERR_DOM_EXIST, "domain with uuid %s already exists as '%s'", uuid,
                      by_uuid->name);
    } else if (by_name) {
        /* A redefinition: the toy has no separate live configuration, so it applies now. */
        d = by_name;
    } else {
        for (i = 0; i < TOY_MAX_DOMAINS && toy_hv.domains[i].used; i++)
            ;
        if (i == TOY_MAX_DOMAINS) {
            toy_error_set(&e, VK_ERR_OPERATION_FAILED, "the toy hypervisor holds at most %d domains",
                          TOY_MAX_DOMAINS);
        } else {
            d = &toy_hv.domains[i];
            memset(d, 0, sizeof *d);
            d->used = 1;
            memcpy(d->name, def.name, sizeof d->name);
            if (def.has_uuid) {
                memcpy(d->uuid, def.uuid, 16);
            } else {
                do
                    toy_uuid_generate(d->uuid);
                while (toy_uuid_taken(d->uuid, d));
            }
            d->id = -1;
            d->state = VK_DOMAIN_SHUTOFF;
        }
    }
    if (d) {
        d->memory_kib = def.memory_kib;
        d->vcpus = def.vcpus;
        toy_identity_of(d, &who);
    }
    pthread_mutex_unlock(&toy_hv.lock);
    if (e.code == VK_OK)
        toy_put(out, &who);
    return toy_report(err, &e);
}

enum toy_action { TOY_UNDEFINE, TOY_START, TOY_DESTROY, TOY_SUSPEND, TOY_RESUME };

/* One life-cycle transition, checked against libvirt's state rules. */
static int32_t toy_transition(const vk_domain_ref *dom, enum toy_action action,
                              const vk_error_sink *err)
{
    struct toy_error e = { 0, "" };
    struct toy_domain *d;
    uint64_t now;

    pthread_mutex_lock(&toy_hv.lock);
    d = toy_find_ref(dom, &e);
    now = toy_now_ns();
    if (d) {
        switch (action) {
        case TOY_UNDEFINE:
            if (toy_is_active(d))
                toy_error_set(&e, VK_ERR_OPERATION_INVALID,
                              "cannot undefine domain '%s': it is active", d->name);
            else
                memset(d, 0, sizeof *d);
            break;
        case TOY_START:
            if (toy_is_active(d)) {
                toy_error_set(&e, VK_ERR_OPERATION_INVALID, "domain '%s' is already active",
                              d->name);
            } else {
                d->id = toy_hv.next_id++;
                d->state = VK_DOMAIN_RUNNING;
                d->running_since_ns = now;
            }
            break;
        case TOY_DESTROY:
            if (!toy_is_active(d)) {
                toy_error_set(&e, VK_ERR_OPERATION_INVALID, "domain '%s' is not running",
                              d->name);
            } else {
                d->cpu_time_ns = toy_cpu_time(d);
                d->id = -1;
                d->state = VK_DOMAIN_SHUTOFF;
            }
            break;
        case TOY_SUSPEND:
            if (d->state != VK_DOMAIN_RUNNING) {
                toy_error_set(&e, VK_ERR_OPERATION_INVALID, "domain '%s' is not running",
                              d->name);
            } else {
                d->cpu_time_ns = toy_cpu_time(d);
                d->state = VK_DOMAIN_PAUSED;
            }
            break;
        case TOY_RESUME:
            if (d->state != VK_DOMAIN_PAUSED) {
                toy_error_set(&e, VK_ERR_OPERATION_INVALID, "domain '%s' is not paused",
                              d->name);
            } else {
                d->state = VK_DOMAIN_RUNNING;
                d->running_since_ns = now;
            }
            break;
        }
    }
    pthread_mutex_unlock(&toy_hv.lock);
    return toy_report(err, &e);
}

static int32_t toy_domain_undefine(vk_conn conn, const vk_domain_ref *dom,
                                   const vk_error_sink *err)
{
    (void)conn;
    return toy_transition(dom, TOY_UNDEFINE, err);
}

static int32_t toy_domain_create(vk_conn conn, const vk_domain_ref *dom, const vk_error_sink *err)
{
    (void)conn;
    return toy_transition(dom, TOY_START, err);
}

static int32_t toy_domain_destroy(vk_conn conn, const vk_domain_ref *dom,
                                  const vk_error_sink *err)
{
    (void)conn;
    return toy_transition(dom, TOY_DESTROY, err);
}

static int32_t toy_domain_suspend(vk_conn conn, const vk_domain_ref *dom,
                                  const vk_error_sink *err)
{
    (void)conn;
    return toy_transition(dom, TOY_SUSPEND, err);
}

static int32_t toy_domain_resume(vk_conn conn, const vk_domain_ref *dom, const vk_error_sink *err)
{
    (void)conn;
    return toy_transition(dom, TOY_RESUME, err);
}

/* ------------------------------------------------------------------------------------------ */
/* Domain information                                                                         */
/* ------------------------------------------------------------------------------------------ */

static int32_t toy_domain_get_info(vk_conn conn, const vk_domain_ref *dom, vk_domain_info *out,
                                   const vk_error_sink *err)
{
    struct toy_error e = { 0, "" };
    struct toy_domain *d;
    (void)conn;
    pthread_mutex_lock(&toy_hv.lock);
    d = toy_find_ref(dom, &e);
    if (d) {
        out->state = d->state;
        out->nr_virt_cpu = d->vcpus;
        out->max_mem_kib = d->memory_kib;
        out->memory_kib = d->memory_kib;
        out->cpu_time_ns = toy_cpu_time(d);
    }
    pthread_mutex_unlock(&toy_hv.lock);
    return toy_report(err, &e);
}

static int32_t toy_domain_get_xml_desc(vk_conn conn, const vk_domain_ref *dom, uint32_t flags,
                                       const vk_str_sink *out, const vk_error_sink *err)
{
    struct toy_error e = { 0, "" };
    struct toy_domain *d;
    char xml[TOY_XML_MAX], uuid[37], id_attr[24] = "";
    (void)conn;
    (void)flags; /* the toy has one configuration: live and inactive XML are the same */
    pthread_mutex_lock(&toy_hv.lock);
    d = toy_find_ref(dom, &e);
    if (d) {
        if (toy_is_active(d))
            snprintf(id_attr, sizeof id_attr, " id='%d'", (int)d->id);
        toy_uuid_format(d->uuid, uuid);
        snprintf(xml, sizeof xml,
                 "<domain type='test'%s>\n"
                 "  <name>%s</name>\n"
                 "  <uuid>%s</uuid>\n"
                 "  <memory unit='KiB'>%llu</memory>\n"
                 "  <vcpu>%u</vcpu>\n"
                 "  <os>\n"
                 "    <type>hvm</type>\n"
                 "  </os>\n"
                 "</domain>\n",
                 id_attr, d->name, uuid, (unsigned long long)d->memory_kib, (unsigned)d->vcpus);
    }
    pthread_mutex_unlock(&toy_hv.lock);
    if (e.code == VK_OK)
        out->push(out->ctx, toy_str(xml));
    return toy_report(err, &e);
}

/* ------------------------------------------------------------------------------------------ */
/* The table                                                                                  */
/* ------------------------------------------------------------------------------------------ */

/* The capability bits of word `w`: exactly the slots set in toy_table below. */
#define TOY_CAPS(w)                                                                           \
    (VK_CAP_IN_WORD(w, VK_OP_OPEN) | VK_CAP_IN_WORD(w, VK_OP_CLOSE) |                         \
     VK_CAP_IN_WORD(w, VK_OP_GET_TYPE) | VK_CAP_IN_WORD(w, VK_OP_GET_VERSION) |               \
     VK_CAP_IN_WORD(w, VK_OP_GET_HOSTNAME) | VK_CAP_IN_WORD(w, VK_OP_NODE_GET_INFO) |         \
     VK_CAP_IN_WORD(w, VK_OP_LIST_DOMAINS) | VK_CAP_IN_WORD(w, VK_OP_NUM_OF_DOMAINS) |        \
     VK_CAP_IN_WORD(w, VK_OP_LIST_DEFINED_DOMAINS) |                                          \
     VK_CAP_IN_WORD(w, VK_OP_NUM_OF_DEFINED_DOMAINS) |                                        \
     VK_CAP_IN_WORD(w, VK_OP_DOMAIN_LOOKUP_BY_ID) |                                           \
     VK_CAP_IN_WORD(w, VK_OP_DOMAIN_LOOKUP_BY_UUID) |                                         \
     VK_CAP_IN_WORD(w, VK_OP_DOMAIN_LOOKUP_BY_NAME) |                                         \
     VK_CAP_IN_WORD(w, VK_OP_DOMAIN_DEFINE_XML) | VK_CAP_IN_WORD(w, VK_OP_DOMAIN_UNDEFINE) |  \
     VK_CAP_IN_WORD(w, VK_OP_DOMAIN_CREATE) | VK_CAP_IN_WORD(w, VK_OP_DOMAIN_DESTROY) |       \
     VK_CAP_IN_WORD(w, VK_OP_DOMAIN_SUSPEND) | VK_CAP_IN_WORD(w, VK_OP_DOMAIN_RESUME) |       \
     VK_CAP_IN_WORD(w, VK_OP_DOMAIN_GET_INFO) | VK_CAP_IN_WORD(w, VK_OP_DOMAIN_GET_XML_DESC))

static const vk_str toy_schemes[] = { VK_STR_INIT("toy") };

/* Every slot not named here is NULL: the core answers "not supported" for it. */
static const vk_driver_table toy_table = {
    .header = {
        .magic = VK_MAGIC,
        .abi_major = VK_ABI_MAJOR,
        .abi_minor = VK_ABI_MINOR,
        .struct_size = sizeof(vk_driver_table),
        .flags = VK_DRIVER_THREAD_SAFE,
        .name = VK_STR_INIT("toy-c"),
        .version = VK_STR_INIT("0.1.0"),
        .schemes = toy_schemes,
        .n_schemes = sizeof toy_schemes / sizeof toy_schemes[0],
        .error_domain = VK_ERROR_DOMAIN_NONE,
        .stack_rank = 0,
        .op_ranks = NULL,
        .n_op_ranks = 0,
        /* Every connection shares one in-process hypervisor; the conformance suite cleans up
         * what it creates, so the shared instance serves as its sandbox. */
        .sandbox_uri = VK_STR_INIT("toy:///default"),
        .caps = { TOY_CAPS(0), TOY_CAPS(1), TOY_CAPS(2), TOY_CAPS(3) },
        .reserved = { 0, 0, 0, 0 },
    },
    .open = toy_open,
    .close = toy_close,
    .get_type = toy_get_type,
    .get_version = toy_get_version,
    .get_hostname = toy_get_hostname,
    .node_get_info = toy_node_get_info,
    .list_domains = toy_list_domains,
    .num_of_domains = toy_num_of_domains,
    .list_defined_domains = toy_list_defined_domains,
    .num_of_defined_domains = toy_num_of_defined_domains,
    .domain_lookup_by_id = toy_domain_lookup_by_id,
    .domain_lookup_by_uuid = toy_domain_lookup_by_uuid,
    .domain_lookup_by_name = toy_domain_lookup_by_name,
    .domain_define_xml = toy_domain_define_xml,
    .domain_undefine = toy_domain_undefine,
    .domain_create = toy_domain_create,
    .domain_destroy = toy_domain_destroy,
    .domain_suspend = toy_domain_suspend,
    .domain_resume = toy_domain_resume,
    .domain_get_info = toy_domain_get_info,
    .domain_get_xml_desc = toy_domain_get_xml_desc,
};

VK_EXPORT const vk_driver_table *virtkit_driver_entry(void)
{
    return &toy_table;
}
