/*
 * toy.c - an in-memory "toyhv" hypervisor for virtkit, written in C against <virtkit/driver.h>
 * (and the <virtkit/host.h> it includes) and nothing else from virtkit, as a third-party driver
 * would be.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * It serves toyhv:/// (also spelled toyhv:///default). All connections share one hypervisor,
 * which lives in this process's memory and starts with one running domain, "toy1" (id 1). Its
 * guests are of its own domain type, <domain type='toyhv'>, declared in its capabilities.
 * Domains are defined from XML, started, paused, resumed, destroyed and undefined following
 * libvirt's state rules.
 *
 * The driver parses nothing itself: the core's host services (ABI 1.2, handed over through
 * header.host_init) parse the URI in open, parse and validate domain XML into a view in define,
 * and format the stored definition back in GetXMLDesc.
 *
 * Every entry locks the hypervisor, computes its result into locals, unlocks, and only then
 * calls the host's sinks: a host callback never runs under the driver's lock.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <virtkit/driver.h>

/* The domain type of the toy's guests. */
#define TOY_DOMAIN_TYPE "toyhv"
/* The hypervisor version reported by get_version, libvirt-encoded: 0.1.0. */
#define TOY_HV_VERSION ((uint64_t)0 * 1000000 + 1 * 1000 + 0)
#define TOY_MAX_DOMAINS 64
#define TOY_NAME_MAX 64 /* bytes, including the terminating NUL */
#define TOY_MAX_VCPUS 16
#define TOY_MSG_MAX 256
/* Longest definition the toy keeps, bytes. */
#define TOY_XML_MAX (64 * 1024)

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
    int persistent;            /* 0: transient, goes when it stops */
    char name[TOY_NAME_MAX];
    uint8_t uuid[16];
    int32_t id;                /* -1 when inactive */
    uint32_t state;            /* a vk_domain_state */
    uint64_t memory_kib;
    uint32_t vcpus;
    char *xml;                 /* the definition as the host formatted it (malloc'd) */
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

/* The host services, set by toy_host_init before the first open (NULL in a core older than
 * ABI 1.2, which never calls host_init: open then fails with a clear message). */
static const vk_host_services *toy_host;

static void toy_host_init(const vk_host_services *host)
{
    toy_host = host;
}

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

/* Reports `e` through the host's error sink, worded by the host as the core words it
 * ("Domain not found: ...", "Requested operation is not valid: ..."); returns the status the
 * entry returns. */
static int32_t toy_report(const vk_error_sink *err, const struct toy_error *e)
{
    if (e->code == VK_OK)
        return VK_OK;
    return toy_host->report_error(err, e->code, toy_str(e->message));
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

/* Caller holds the lock. */
static struct toy_domain *toy_find_uuid(const uint8_t uuid[16])
{
    size_t i;
    for (i = 0; i < TOY_MAX_DOMAINS; i++)
        if (toy_hv.domains[i].used && memcmp(toy_hv.domains[i].uuid, uuid, 16) == 0)
            return &toy_hv.domains[i];
    return NULL;
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
/* Definitions, as the host parsed them                                                        */
/* ------------------------------------------------------------------------------------------ */

/* What define keeps of the host's view (which is valid only during the visit). */
struct toy_def {
    int type_ok;
    char type[33];
    char name[TOY_NAME_MAX];
    uint8_t uuid[16];
    uint64_t memory_kib;
    uint32_t vcpus;
    char *xml; /* malloc'd copy of view->xml, or NULL when too long or out of memory */
    int too_long;
};

static void toy_copy(char *dst, size_t cap, vk_str s)
{
    size_t n = s.len < cap - 1 ? s.len : cap - 1;
    if (n)
        memcpy(dst, s.ptr, n);
    dst[n] = '\0';
}

/* The host's visit callback: copies what the toy keeps. */
static void toy_see_domain(void *ctx, const vk_domain_view *view)
{
    struct toy_def *def = ctx;
    def->type_ok = toy_str_eq(view->domain_type, TOY_DOMAIN_TYPE);
    toy_copy(def->type, sizeof def->type, view->domain_type);
    toy_copy(def->name, sizeof def->name, view->name);
    def->too_long = view->name.len >= TOY_NAME_MAX || view->xml.len >= TOY_XML_MAX;
    memcpy(def->uuid, view->uuid, 16);
    def->memory_kib = view->memory_kib;
    def->vcpus = view->vcpus;
    def->xml = NULL;
    if (!def->too_long && (def->xml = malloc(view->xml.len + 1)) != NULL) {
        memcpy(def->xml, view->xml.ptr, view->xml.len);
        def->xml[view->xml.len] = '\0';
    }
}

/* Moves a parsed definition into a domain slot. Caller holds the lock. */
static void toy_adopt(struct toy_domain *d, struct toy_def *def)
{
    memcpy(d->name, def->name, sizeof d->name);
    memcpy(d->uuid, def->uuid, 16);
    d->memory_kib = def->memory_kib;
    d->vcpus = def->vcpus;
    free(d->xml);
    d->xml = def->xml;
    def->xml = NULL;
}

/* Empties a slot. Caller holds the lock. */
static void toy_forget(struct toy_domain *d)
{
    free(d->xml);
    memset(d, 0, sizeof *d);
}

/* toy1, running when the hypervisor starts. The host formats it like any definition. */
static const char toy1_xml[] =
    "<domain type='" TOY_DOMAIN_TYPE "'>"
    "<name>toy1</name>"
    "<uuid>3c6e1f52-9a07-4d2b-8e41-0b5fd2967a13</uuid>"
    "<memory unit='KiB'>524288</memory>"
    "<vcpu>2</vcpu>"
    "<os><type arch='x86_64'>hvm</type></os>"
    "</domain>";

static void toy_init(void)
{
    struct toy_domain *d = &toy_hv.domains[0];
    struct toy_def *def = calloc(1, sizeof *def);
    vk_str xml = VK_STR_INIT(toy1_xml);

    /* Errors in a constant are the author's bug; without a definition toy1 is simply absent. */
    if (def == NULL || toy_host->parse_domain(xml, 0, toy_see_domain, def, NULL) != VK_OK) {
        free(def);
        return;
    }
    pthread_mutex_lock(&toy_hv.lock);
    d->used = 1;
    d->persistent = 1;
    toy_adopt(d, def);
    d->id = toy_hv.next_id++;
    d->state = VK_DOMAIN_RUNNING;
    d->cpu_time_ns = 0;
    d->running_since_ns = toy_now_ns();
    pthread_mutex_unlock(&toy_hv.lock);
    free(def);
}

/* ------------------------------------------------------------------------------------------ */
/* Connection entries                                                                         */
/* ------------------------------------------------------------------------------------------ */

/* The host's URI visit: whether the URI names the toy's one node. */
static void toy_see_uri(void *ctx, const vk_uri_view *uri)
{
    int *ours = ctx;
    *ours = toy_str_eq(uri->scheme, "toyhv") && uri->host.len == 0 &&
            (toy_str_eq(uri->path, "/") || toy_str_eq(uri->path, "") ||
             toy_str_eq(uri->path, "/default"));
}

static int32_t toy_open(vk_str uri, uint32_t flags, vk_conn *conn_out, const vk_error_sink *err)
{
    int ours = 0;
    (void)flags; /* read-only: the core already refuses mutating calls */
    if (toy_host == NULL) {
        /* A core older than ABI 1.2 gives no host services. */
        err->set(err->ctx, VK_ERR_NO_CONNECT,
                 toy_str("toyhv-c needs a virtkit core with ABI 1.2 host services"));
        return VK_ERR_NO_CONNECT;
    }
    /* A URI the host cannot parse is not the toy's: decline, without an error. */
    if (uri.len == 0 || toy_host->parse_uri(uri, toy_see_uri, &ours, NULL) != VK_OK || !ours)
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
    out->push(out->ctx, toy_str("TOYHV"));
    return VK_OK;
}

/* The capabilities: where the toy declares its domain type (the core accepts
 * <domain type='toyhv'> on its connections because of this, and the conformance suite defines
 * its guests with it). Writing XML is fine; parsing it is the host's job. */
static int32_t toy_get_capabilities(vk_conn conn, const vk_str_sink *out, const vk_error_sink *err)
{
    (void)conn;
    (void)err;
    out->push(out->ctx, toy_str("<capabilities>\n"
                                "  <host>\n"
                                "    <cpu>\n"
                                "      <arch>x86_64</arch>\n"
                                "    </cpu>\n"
                                "  </host>\n"
                                "  <guest>\n"
                                "    <os_type>hvm</os_type>\n"
                                "    <arch name='x86_64'>\n"
                                "      <wordsize>64</wordsize>\n"
                                "      <domain type='" TOY_DOMAIN_TYPE "'/>\n"
                                "    </arch>\n"
                                "  </guest>\n"
                                "</capabilities>\n"));
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
    int32_t rc;
    size_t i;
    (void)conn;

    /* The host parses and validates; on failure it has reported the error through err. */
    memset(&def, 0, sizeof def);
    rc = toy_host->parse_domain(xml, VK_HOST_PARSE_NEW_DEFINITION, toy_see_domain, &def, err);
    if (rc != VK_OK)
        return rc;
    if (!def.type_ok)
        toy_error_set(&e, VK_ERR_CONFIG_UNSUPPORTED,
                      "the toy runs '" TOY_DOMAIN_TYPE
                      "' guests, not '%s'",
                      def.type);
    else if (def.too_long)
        toy_error_set(&e, VK_ERR_INVALID_ARG,
                      "the toy keeps names shorter than %d bytes and "
                      "definitions shorter than %d bytes",
                      TOY_NAME_MAX, TOY_XML_MAX);
    else if (def.xml == NULL)
        toy_error_set(&e, VK_ERR_NO_MEMORY, "out of memory");
    if (e.code != VK_OK) {
        free(def.xml);
        return toy_report(err, &e);
    }

    pthread_mutex_lock(&toy_hv.lock);
    by_name = toy_find_name(def.name, strlen(def.name));
    by_uuid = toy_find_uuid(def.uuid);
    if (by_name && by_uuid != by_name) {
        toy_uuid_format(by_name->uuid, uuid);
        toy_error_set(&e, VK_ERR_DOM_EXIST, "domain '%s' already exists with uuid %s",
                      by_name->name, uuid);
    } else if (by_uuid && by_uuid != by_name) {
        toy_uuid_format(by_uuid->uuid, uuid);
        toy_error_set(&e, VK_ERR_DOM_EXIST, "domain '%s' already has uuid %s",
                      by_uuid->name, uuid);
    } else if (by_name) {
        /* A redefinition: the toy has no separate live configuration, so it applies now. */
        d = by_name;
    } else {
        for (i = 0; i < TOY_MAX_DOMAINS && toy_hv.domains[i].used; i++)
            ;
        if (i == TOY_MAX_DOMAINS) {
            toy_error_set(&e, VK_ERR_OPERATION_FAILED,
                          "the toy hypervisor holds at most %d domains",
                          TOY_MAX_DOMAINS);
        } else {
            d = &toy_hv.domains[i];
            memset(d, 0, sizeof *d);
            d->used = 1;
            d->id = -1;
            d->state = VK_DOMAIN_SHUTOFF;
        }
    }
    if (d) {
        d->persistent = 1;
        toy_adopt(d, &def);
        toy_identity_of(d, &who);
    }
    pthread_mutex_unlock(&toy_hv.lock);
    free(def.xml); /* NULL when adopted */
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
            /* As libvirt: an active domain loses its definition and goes when it stops. */
            if (toy_is_active(d))
                d->persistent = 0;
            else
                toy_forget(d);
            break;
        case TOY_START:
            if (toy_is_active(d)) {
                toy_error_set(&e, VK_ERR_OPERATION_INVALID,
                              "domain '%s' is already active",
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
                if (!d->persistent)
                    toy_forget(d);
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
    vk_domain_edit edit;
    char *xml = NULL;
    int32_t rc;
    (void)conn;
    memset(&edit, 0, sizeof edit);
    edit.struct_size = sizeof edit;
    edit.id = -1;
    pthread_mutex_lock(&toy_hv.lock);
    d = toy_find_ref(dom, &e);
    if (d) {
        /* The toy has one configuration: live and inactive XML differ only by the id. */
        edit.id = toy_is_active(d) ? d->id : -1;
        edit.memory_kib = d->memory_kib;
        edit.vcpus = d->vcpus;
        if (d->xml == NULL || (xml = strdup(d->xml)) == NULL)
            toy_error_set(&e, VK_ERR_NO_MEMORY, "out of memory");
    }
    pthread_mutex_unlock(&toy_hv.lock);
    if (e.code != VK_OK)
        return toy_report(err, &e);
    /* The host writes the XML into the sink; flags are libvirt's (secure, inactive). */
    rc = toy_host->format_domain(toy_str(xml), &edit, flags & (VK_HOST_XML_SECURE | VK_HOST_XML_INACTIVE),
                                 out, err);
    free(xml);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* The table                                                                                  */
/* ------------------------------------------------------------------------------------------ */

/* The capability bits of word `w`: exactly the slots set in toy_table below. */
#define TOY_CAPS(w)                                                                           \
    (VK_CAP_IN_WORD(w, VK_OP_OPEN) | VK_CAP_IN_WORD(w, VK_OP_CLOSE) |                         \
     VK_CAP_IN_WORD(w, VK_OP_GET_TYPE) | VK_CAP_IN_WORD(w, VK_OP_GET_VERSION) |               \
     VK_CAP_IN_WORD(w, VK_OP_GET_HOSTNAME) | VK_CAP_IN_WORD(w, VK_OP_NODE_GET_INFO) |         \
     VK_CAP_IN_WORD(w, VK_OP_GET_CAPABILITIES) |                                              \
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

static const vk_str toy_schemes[] = { VK_STR_INIT("toyhv") };

/* Every slot not named here is NULL: the core answers "not supported" for it. */
static const vk_driver_table toy_table = {
    .header = {
        .magic = VK_MAGIC,
        .abi_major = VK_ABI_MAJOR,
        .abi_minor = VK_ABI_MINOR,
        .struct_size = sizeof(vk_driver_table),
        .flags = VK_DRIVER_THREAD_SAFE,
        .name = VK_STR_INIT("toyhv-c"),
        .version = VK_STR_INIT("0.1.0"),
        .schemes = toy_schemes,
        .n_schemes = sizeof toy_schemes / sizeof toy_schemes[0],
        .error_domain = VK_ERROR_DOMAIN_NONE,
        .stack_rank = 0,
        .op_ranks = NULL,
        .n_op_ranks = 0,
        /* Every connection shares one in-process hypervisor; the conformance suite cleans up
         * what it creates, so the shared instance serves as its sandbox. */
        .sandbox_uri = VK_STR_INIT("toyhv:///"),
        .caps = { TOY_CAPS(0), TOY_CAPS(1), TOY_CAPS(2), TOY_CAPS(3) },
        /* ABI 1.2: the core hands over its host services before the first open. */
        .host_init = toy_host_init,
        .reserved = { 0, 0, 0 },
    },
    .open = toy_open,
    .close = toy_close,
    .get_type = toy_get_type,
    .get_version = toy_get_version,
    .get_hostname = toy_get_hostname,
    .get_capabilities = toy_get_capabilities,
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
