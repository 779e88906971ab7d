/* A minimal, strictly bounds-checked FlexBuffers reader, enough for the REDS options map.
 *
 * FlexBuffers recap (the parts used here): the last byte of the buffer is the root's byte width W, the byte before
 * it the root's packed type (type << 2 | log2(child byte width)), and the W bytes before that hold the root value.
 * Offsets are unsigned and point backwards from the position they are stored at. A map at address p with element
 * width w has: keys-vector offset at p-3w, keys byte width at p-2w, size at p-w, values at p + i*w, then one
 * packed-type byte per value. Keys are a typed vector of offsets to NUL-terminated strings, sorted bytewise. */
#include "reds_options.h"

#include <string.h>

#include "reds_quant.h"

enum {
  FBT_NULL = 0, FBT_INT = 1, FBT_UINT = 2, FBT_FLOAT = 3, FBT_KEY = 4, FBT_STRING = 5, FBT_INDIRECT_INT = 6,
  FBT_INDIRECT_UINT = 7, FBT_MAP = 9, FBT_VECTOR = 10, FBT_VECTOR_INT = 11, FBT_VECTOR_UINT = 12, FBT_BOOL = 26
};

typedef struct {
  const uint8_t *buf;
  size_t len; /* bytes that may be addressed: the root type and width bytes are excluded */
} flex_buf;

/* A reference to one value: where its bytes are, the width they are stored with (parent width) and its type. */
typedef struct {
  size_t pos;
  uint32_t parent_width;
  uint32_t byte_width; /* child width from the packed type, for offset/indirect types */
  uint32_t type;
} flex_ref;

static int valid_width(uint32_t w) { return w == 1 || w == 2 || w == 4 || w == 8; }

/* Read an unsigned little-endian integer of width w at pos, if pos + w fits. */
static int read_uint(const flex_buf *fb, size_t pos, uint32_t w, uint64_t *v) {
  if (!valid_width(w) || pos > fb->len || w > fb->len - pos) return 0;
  uint64_t r = 0;
  for (uint32_t i = 0; i < w; ++i) r |= (uint64_t)fb->buf[pos + i] << (8u * i);
  *v = r;
  return 1;
}

static int read_int(const flex_buf *fb, size_t pos, uint32_t w, int64_t *v) {
  uint64_t u = 0;
  if (!read_uint(fb, pos, w, &u)) return 0;
  if (w < 8 && (u >> (8u * w - 1u)) & 1u) u |= ~(uint64_t)0 << (8u * w); /* sign-extend */
  *v = (int64_t)u;
  return 1;
}

/* Follow the offset stored at pos (width w) backwards. */
static int follow(const flex_buf *fb, size_t pos, uint32_t w, size_t *target) {
  uint64_t off = 0;
  if (!read_uint(fb, pos, w, &off)) return 0;
  if (off > (uint64_t)pos) return 0;
  *target = pos - (size_t)off;
  return 1;
}

static flex_ref make_ref(size_t pos, uint32_t parent_width, uint8_t packed_type) {
  flex_ref r;
  r.pos = pos;
  r.parent_width = parent_width;
  r.byte_width = 1u << (packed_type & 3u);
  r.type = packed_type >> 2;
  return r;
}

/* Unsigned values above INT64_MAX are reported as INT64_MAX: every caller rejects anything beyond int32. */
static int read_uint_clamped(const flex_buf *fb, size_t pos, uint32_t w, int64_t *v) {
  uint64_t u = 0;
  if (!read_uint(fb, pos, w, &u)) return 0;
  *v = u > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)u;
  return 1;
}

/* Integer value of a ref of type INT, UINT, their INDIRECT forms, or BOOL: the types the Python reader
 * (flatbuffers.flexbuffers IsInt / IsBool) accepts as ints, so both readers accept the same buffers. */
static int ref_as_int(const flex_buf *fb, const flex_ref *r, int64_t *v) {
  int ok;
  size_t t = 0;
  switch (r->type) {
    case FBT_INT:
    case FBT_BOOL:
      ok = read_int(fb, r->pos, r->parent_width, v);
      break;
    case FBT_UINT:
      ok = read_uint_clamped(fb, r->pos, r->parent_width, v);
      break;
    case FBT_INDIRECT_INT:
      ok = follow(fb, r->pos, r->parent_width, &t) && read_int(fb, t, r->byte_width, v);
      break;
    case FBT_INDIRECT_UINT:
      ok = follow(fb, r->pos, r->parent_width, &t) && read_uint_clamped(fb, t, r->byte_width, v);
      break;
    default:
      return REDS_ERR_TYPE;
  }
  return ok ? REDS_OK : REDS_ERR_FLEX;
}

/* Length of the NUL-terminated key at pos, or -1 if it runs off the buffer. */
static long key_len(const flex_buf *fb, size_t pos) {
  if (pos >= fb->len) return -1;
  const void *nul = memchr(fb->buf + pos, 0, fb->len - pos);
  return nul ? (long)((const uint8_t *)nul - (fb->buf + pos)) : -1;
}

typedef struct {
  size_t values;     /* address of value 0 */
  uint32_t width;    /* value slot width */
  uint64_t size;
  size_t keys;       /* address of key-offset 0 */
  uint32_t key_width;
} flex_map;

static int open_map(const flex_buf *fb, const flex_ref *root, flex_map *m) {
  size_t p = 0;
  uint64_t kw = 0, size = 0;
  if (!follow(fb, root->pos, root->parent_width, &p)) return REDS_ERR_FLEX;
  const uint32_t w = root->byte_width;
  if (p < 3u * (size_t)w) return REDS_ERR_FLEX;
  if (!read_uint(fb, p - w, w, &size)) return REDS_ERR_FLEX;
  if (!read_uint(fb, p - 2u * w, w, &kw) || !valid_width((uint32_t)kw) || kw > 8) return REDS_ERR_FLEX;
  size_t keys = 0;
  if (!follow(fb, p - 3u * w, w, &keys)) return REDS_ERR_FLEX;
  /* values (size * w bytes) and their type bytes (size bytes) must fit; so must the keys vector. */
  if (size > fb->len || p > fb->len || size * (w + 1u) > fb->len - p) return REDS_ERR_FLEX;
  if (keys < kw || keys > fb->len || size * kw > fb->len - keys) return REDS_ERR_FLEX;
  uint64_t key_count = 0;
  if (!read_uint(fb, keys - (size_t)kw, (uint32_t)kw, &key_count) || key_count != size) return REDS_ERR_FLEX;
  m->values = p;
  m->width = w;
  m->size = size;
  m->keys = keys;
  m->key_width = (uint32_t)kw;
  return REDS_OK;
}

/* Address of key i of the map (validated to be NUL-terminated inside the buffer). */
static int map_key(const flex_buf *fb, const flex_map *m, uint64_t i, size_t *key) {
  if (!follow(fb, m->keys + (size_t)i * m->key_width, m->key_width, key)) return 0;
  return key_len(fb, *key) >= 0;
}

/* Keys must be strictly increasing (bytewise, as strcmp): the map is binary-searchable, as FlexBuffers requires,
 * and no key appears twice. */
static int check_sorted(const flex_buf *fb, const flex_map *m) {
  size_t prev = 0;
  for (uint64_t i = 0; i < m->size; ++i) {
    size_t k = 0;
    if (!map_key(fb, m, i, &k)) return REDS_ERR_FLEX;
    if (i > 0 && strcmp((const char *)fb->buf + prev, (const char *)fb->buf + k) >= 0) return REDS_ERR_FLEX;
    prev = k;
  }
  return REDS_OK;
}

/* Find `name`; REDS_ERR_MISSING_KEY if absent. Keys were validated by check_sorted. */
static int map_find(const flex_buf *fb, const flex_map *m, const char *name, flex_ref *out) {
  for (uint64_t i = 0; i < m->size; ++i) {
    size_t k = 0;
    if (!map_key(fb, m, i, &k)) return REDS_ERR_FLEX;
    if (strcmp((const char *)fb->buf + k, name) == 0) {
      const size_t slot = m->values + (size_t)i * m->width;
      const uint8_t packed = fb->buf[m->values + (size_t)m->size * m->width + (size_t)i];
      *out = make_ref(slot, m->width, packed);
      return REDS_OK;
    }
  }
  return REDS_ERR_MISSING_KEY;
}

static int get_int(const flex_buf *fb, const flex_map *m, const char *name, int32_t *v, reds_options *o) {
  flex_ref r;
  int64_t x = 0;
  int st = map_find(fb, m, name, &r);
  if (st == REDS_OK) st = ref_as_int(fb, &r, &x);
  if (st == REDS_OK && (x < INT32_MIN || x > INT32_MAX)) st = REDS_ERR_VALUE;
  if (st != REDS_OK) {
    o->error_key = name;
    return st;
  }
  *v = (int32_t)x;
  return REDS_OK;
}

/* A vector of ints: a typed INT or UINT vector, or an untyped vector whose elements are all ints. Fixed-size
 * typed vectors are rejected, as the Python reader does (the encoder never writes them). */
static int get_int_vector(const flex_buf *fb, const flex_map *m, const char *name, int32_t *dst, int32_t n,
                          reds_options *o) {
  flex_ref r;
  size_t p = 0;
  uint64_t size = 0;
  o->error_key = name;
  int st = map_find(fb, m, name, &r);
  if (st != REDS_OK) return st;
  const uint32_t w = r.byte_width;
  if (r.type != FBT_VECTOR && r.type != FBT_VECTOR_INT && r.type != FBT_VECTOR_UINT) return REDS_ERR_TYPE;
  if (!follow(fb, r.pos, r.parent_width, &p)) return REDS_ERR_FLEX;
  if (p < w || !read_uint(fb, p - w, w, &size)) return REDS_ERR_FLEX;
  const uint64_t per_elem = (r.type == FBT_VECTOR) ? (uint64_t)w + 1u : (uint64_t)w;
  if (size > fb->len || p > fb->len || size * per_elem > fb->len - p) return REDS_ERR_FLEX;
  if (size != (uint64_t)n) return REDS_ERR_LENGTH;
  for (uint64_t i = 0; i < size; ++i) {
    flex_ref e;
    int64_t x = 0;
    if (r.type == FBT_VECTOR) e = make_ref(p + (size_t)i * w, w, fb->buf[p + (size_t)size * w + (size_t)i]);
    else e = make_ref(p + (size_t)i * w, w, (uint8_t)((r.type == FBT_VECTOR_UINT ? FBT_UINT : FBT_INT) << 2));
    st = ref_as_int(fb, &e, &x);
    if (st != REDS_OK) return st;
    if (x < INT32_MIN || x > INT32_MAX) return REDS_ERR_WIDTH;
    dst[i] = (int32_t)x;
  }
  o->error_key = NULL;
  return REDS_OK;
}

static int check_widths(const int32_t *w, int32_t n, int32_t full, const char *name, reds_options *o) {
  for (int32_t k = 0; k < n; ++k) {
    if (w[k] < 1 || (full > 0 && w[k] > full)) {
      o->error_key = name;
      return REDS_ERR_WIDTH;
    }
    if (k > 0 && w[k] > w[k - 1]) {
      o->error_key = name;
      return REDS_ERR_NESTING;
    }
  }
  return REDS_OK;
}

#define TRY(expr)                     \
  do {                                \
    const int st_ = (expr);           \
    if (st_ != REDS_OK) return st_;   \
  } while (0)

static int range_check(int ok, const char *key, reds_options *o) {
  if (ok) return REDS_OK;
  o->error_key = key;
  return REDS_ERR_VALUE;
}

int reds_options_parse(const uint8_t *buf, size_t len, int op, int32_t out_channels, reds_options *out) {
  if (out == NULL) return REDS_ERR_ARG;
  memset(out, 0, sizeof(*out));
  if (buf == NULL || (op != REDS_OP_FC && op != REDS_OP_CONV && op != REDS_OP_DWCONV)) return REDS_ERR_ARG;
  if (len < 3) return REDS_ERR_FLEX;
  flex_buf fb;
  fb.buf = buf;
  const uint32_t root_width = buf[len - 1];
  if (!valid_width(root_width) || len < 2u + root_width) return REDS_ERR_FLEX;
  fb.len = len - 2u; /* the root type and width bytes are never addressed by offsets */
  const flex_ref root = make_ref(fb.len - root_width, root_width, buf[len - 2]);
  if (root.type != FBT_MAP) return REDS_ERR_NOT_MAP;
  flex_map m;
  TRY(open_map(&fb, &root, &m));
  TRY(check_sorted(&fb, &m));

  out->op = op;
  TRY(get_int(&fb, &m, "version", &out->version, out));
  if (out->version != REDS_OPTIONS_VERSION) {
    out->error_key = "version";
    return REDS_ERR_VERSION;
  }
  TRY(get_int(&fb, &m, "budgets", &out->budgets, out));
  if (out->budgets < 1 || out->budgets > REDS_MAX_BUDGETS) {
    out->error_key = "budgets";
    return REDS_ERR_LENGTH;
  }
  TRY(get_int(&fb, &m, "activation", &out->activation, out));
  TRY(get_int(&fb, &m, "in_channels", &out->in_channels, out));
  TRY(get_int_vector(&fb, &m, "out_widths", out->out_widths, out->budgets, out));
  TRY(get_int_vector(&fb, &m, "in_widths", out->in_widths, out->budgets, out));
  out->in_repeat = 1;
  out->stride_w = out->stride_h = out->dilation_w = out->dilation_h = out->depth_multiplier = 1;
  if (op == REDS_OP_FC) {
    TRY(get_int(&fb, &m, "in_repeat", &out->in_repeat, out));
    TRY(get_int(&fb, &m, "keep_num_dims", &out->keep_num_dims, out));
  } else {
    TRY(get_int(&fb, &m, "padding", &out->padding, out));
    TRY(get_int(&fb, &m, "stride_w", &out->stride_w, out));
    TRY(get_int(&fb, &m, "stride_h", &out->stride_h, out));
    TRY(get_int(&fb, &m, "dilation_w", &out->dilation_w, out));
    TRY(get_int(&fb, &m, "dilation_h", &out->dilation_h, out));
    if (op == REDS_OP_DWCONV) TRY(get_int(&fb, &m, "depth_multiplier", &out->depth_multiplier, out));
  }

  TRY(range_check(out->activation >= REDS_ACT_NONE && out->activation <= REDS_ACT_RELU6, "activation", out));
  TRY(range_check(out->in_channels >= 1, "in_channels", out));
  TRY(range_check(out->in_repeat >= 1, "in_repeat", out));
  TRY(range_check(out->keep_num_dims == 0 || out->keep_num_dims == 1, "keep_num_dims", out));
  TRY(range_check(out->padding == REDS_PADDING_SAME || out->padding == REDS_PADDING_VALID, "padding", out));
  TRY(range_check(out->stride_w >= 1, "stride_w", out));
  TRY(range_check(out->stride_h >= 1, "stride_h", out));
  TRY(range_check(out->dilation_w >= 1, "dilation_w", out));
  TRY(range_check(out->dilation_h >= 1, "dilation_h", out));
  TRY(range_check(out->depth_multiplier == 1, "depth_multiplier", out));
  TRY(check_widths(out->out_widths, out->budgets, out_channels, "out_widths", out));
  TRY(check_widths(out->in_widths, out->budgets, out->in_channels, "in_widths", out));
  if (op == REDS_OP_DWCONV) {
    for (int32_t k = 0; k < out->budgets; ++k) {
      if (out->out_widths[k] != out->in_widths[k]) {
        out->error_key = "in_widths";
        return REDS_ERR_WIDTH;
      }
    }
  }
  out->error_key = NULL;
  return REDS_OK;
}

int reds_options_widths(const reds_options *opts, int k, int32_t *out_width, int32_t *in_width) {
  if ((unsigned)k >= (unsigned)opts->budgets) return REDS_ERR_BUDGET;
  *out_width = opts->out_widths[k];
  *in_width = opts->in_widths[k];
  return REDS_OK;
}
