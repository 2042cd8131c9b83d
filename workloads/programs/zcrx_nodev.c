// SPDX-License-Identifier: GPL-2.0
/*
 * zcrx_nodev: exercise io_uring zero-copy receive (zcrx) in its
 * device-less mode (ZCRX_REG_NODEV) over TCP on 127.0.0.1.
 *
 *   usage: zcrx_nodev SECONDS [PORT]        (PORT defaults to 5400)
 *
 * Raw syscalls only (no liburing).  Mirrors the logic of the upstream
 * selftest tools/testing/selftests/drivers/net/hw/iou-zcrx.c, plus the
 * NODEV specifics from io_uring/zcrx.c: no page pool exists, every byte
 * goes through the copy fallback, and returned buffers only reach the
 * kernel's freelist when the refill queue is flushed with
 * IORING_REGISTER_ZCRX_CTRL / ZCRX_CTRL_FLUSH_RQ.
 *
 * Build (Linux 7.2 UAPI):
 *   gcc -O2 -static -Wall -I <7.2 usr/include> -o zcrx_nodev zcrx_nodev.c
 * Built against UAPI headers without <linux/io_uring/zcrx.h> (or with
 * -DNR_FORCE_NO_ZCRX) it only prints that zcrx is unavailable and exits 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * ZCRX_REG_NODEV, IORING_REGISTER_ZCRX_IFQ, IORING_REGISTER_ZCRX_CTRL and
 * IORING_OP_RECV_ZC are enumerators, not macros, so the preprocessor
 * cannot test them.  What it can test: the zcrx UAPI was split out into
 * <linux/io_uring/zcrx.h> in the same series that added ZCRX_REG_NODEV
 * and ZCRX_CTRL_FLUSH_RQ, and <linux/io_uring.h> includes that header
 * (defining its guard LINUX_IO_ZCRX_H) only from then on.
 */
#if defined(__has_include)
# if __has_include(<linux/io_uring/zcrx.h>)
#  define NR_HAVE_ZCRX_HEADER 1
# endif
#endif

#include <linux/io_uring.h>

#if defined(NR_HAVE_ZCRX_HEADER) && defined(LINUX_IO_ZCRX_H) && \
    defined(IORING_ZCRX_AREA_SHIFT) && defined(IORING_ZCRX_AREA_MASK) && \
    !defined(NR_FORCE_NO_ZCRX)
# define NR_ZCRX 1
#endif

#define NR_NO_ZCRX_MSG \
	"zcrx: this kernel's io_uring has no zero-copy receive " \
	"(no ZCRX_REG_NODEV in its UAPI)"

#ifndef NR_ZCRX

int main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("%s\n", NR_NO_ZCRX_MSG);
	return 0;
}

#else /* NR_ZCRX */

#include <stdint.h>
#include <stdbool.h>
#include <inttypes.h>
#include <unistd.h>
#include <time.h>
#include <poll.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <net/if.h>

#ifndef __NR_io_uring_setup
# define __NR_io_uring_setup	425
#endif
#ifndef __NR_io_uring_enter
# define __NR_io_uring_enter	426
#endif
#ifndef __NR_io_uring_register
# define __NR_io_uring_register	427
#endif

/* ---- sizing --------------------------------------------------------- */
#define DEFAULT_PORT	5400
#define SQ_ENTRIES	64
#define CQ_ENTRIES	4096		/* CQE32: 128 KiB of CQ ring */
#define AREA_BYTES	(16UL << 20)	/* 4096 x 4 KiB niovs */
#define RQ_ENTRIES	8192		/* >= number of niovs: RQ can't overrun */
#define SEND_CHUNK	(256 * 1024)
#define VERIFY_STEP	4096
#define UD_RECV		2ULL		/* user_data of the RECV_ZC request */
#define WAIT_MS		200
#define GRACE_S		30		/* receiver safety margin past SECONDS */
#define ACCEPT_MS	10000
#define MAX_IDLE_REARMS	10000		/* ENOMEM/ENOSPC re-arms without data */

/* ---- small helpers -------------------------------------------------- */
static const char *errname(int e)
{
	switch (e) {
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case EINTR: return "EINTR";
	case EIO: return "EIO";
	case ENXIO: return "ENXIO";
	case E2BIG: return "E2BIG";
	case EBADF: return "EBADF";
	case EAGAIN: return "EAGAIN";
	case ENOMEM: return "ENOMEM";
	case EACCES: return "EACCES";
	case EFAULT: return "EFAULT";
	case EBUSY: return "EBUSY";
	case EEXIST: return "EEXIST";
	case ENODEV: return "ENODEV";
	case EINVAL: return "EINVAL";
	case ENFILE: return "ENFILE";
	case EMFILE: return "EMFILE";
	case ENOSPC: return "ENOSPC";
	case EPIPE: return "EPIPE";
	case ERANGE: return "ERANGE";
	case ENOSYS: return "ENOSYS";
	case ETIME: return "ETIME";
	case EBADR: return "EBADR";
	case EBADFD: return "EBADFD";
	case EOVERFLOW: return "EOVERFLOW";
	case ENOTSOCK: return "ENOTSOCK";
	case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case EADDRINUSE: return "EADDRINUSE";
	case ENOBUFS: return "ENOBUFS";
	case ECONNRESET: return "ECONNRESET";
	case ENOTCONN: return "ENOTCONN";
	case ETIMEDOUT: return "ETIMEDOUT";
	case ECONNREFUSED: return "ECONNREFUSED";
	case ECANCELED: return "ECANCELED";
	default: return "E?";
	}
}

static void fail_errno(const char *what, int e)
{
	printf("zcrx: %s failed: %s (errno %d)\n", what, strerror(e), e);
	fflush(stdout);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int sys_io_uring_setup(unsigned entries, struct io_uring_params *p)
{
	return (int)syscall(__NR_io_uring_setup, entries, p);
}

static int sys_io_uring_enter(int fd, unsigned to_submit, unsigned min_complete,
			      unsigned flags, void *arg, size_t argsz)
{
	return (int)syscall(__NR_io_uring_enter, fd, to_submit, min_complete,
			    flags, arg, argsz);
}

static int sys_io_uring_register(int fd, unsigned opcode, void *arg,
				 unsigned nr_args)
{
	return (int)syscall(__NR_io_uring_register, fd, opcode, arg, nr_args);
}

static unsigned load_acq(const unsigned *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void store_rel(unsigned *p, unsigned v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/* ---- io_uring ring --------------------------------------------------- */
struct ring {
	int fd;
	unsigned features;
	void *sq_ptr, *cq_ptr;
	size_t sq_sz, cq_sz;
	struct io_uring_sqe *sqes;
	size_t sqes_sz;
	unsigned *sq_head, *sq_tail, *sq_mask, *sq_array;
	unsigned sq_entries, sq_local_tail;
	unsigned *cq_head, *cq_tail, *cq_mask;
	unsigned cq_entries;
	struct io_uring_cqe *cqes;
};

static void ring_exit(struct ring *r)
{
	if (r->sqes && r->sqes != MAP_FAILED)
		munmap(r->sqes, r->sqes_sz);
	if (r->cq_ptr && r->cq_ptr != MAP_FAILED && r->cq_ptr != r->sq_ptr)
		munmap(r->cq_ptr, r->cq_sz);
	if (r->sq_ptr && r->sq_ptr != MAP_FAILED)
		munmap(r->sq_ptr, r->sq_sz);
	if (r->fd >= 0)
		close(r->fd);
	memset(r, 0, sizeof(*r));
	r->fd = -1;
}

/*
 * The flags iou-zcrx.c uses, plus CQSIZE so the CQ can hold roughly as
 * many 4 KiB copy-fallback completions as the area has buffers.  zcrx
 * registration requires DEFER_TASKRUN and CQE32 (or CQE_MIXED), see
 * io_register_zcrx() in io_uring/zcrx.c.
 */
#define RING_FLAGS (IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SINGLE_ISSUER | \
		    IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL | \
		    IORING_SETUP_CQE32 | IORING_SETUP_CQSIZE)

/* returns 0, or an errno value (the message has been printed) */
static int ring_init(struct ring *r, unsigned sq_entries, unsigned cq_entries)
{
	struct io_uring_params p;
	size_t cqe_sz = 2 * sizeof(struct io_uring_cqe);	/* CQE32 */
	int e;

	memset(r, 0, sizeof(*r));
	r->fd = -1;
	memset(&p, 0, sizeof(p));
	p.flags = RING_FLAGS;
	p.cq_entries = cq_entries;

	r->fd = sys_io_uring_setup(sq_entries, &p);
	if (r->fd < 0) {
		e = errno;
		r->fd = -1;
		fail_errno("io_uring_setup", e);
		return e;
	}
	r->features = p.features;
	r->sq_entries = p.sq_entries;
	r->cq_entries = p.cq_entries;

	r->sq_sz = p.sq_off.array + p.sq_entries * sizeof(__u32);
	r->cq_sz = p.cq_off.cqes + p.cq_entries * cqe_sz;
	if (p.features & IORING_FEAT_SINGLE_MMAP) {
		if (r->cq_sz > r->sq_sz)
			r->sq_sz = r->cq_sz;
		r->cq_sz = r->sq_sz;
	}
	r->sq_ptr = mmap(NULL, r->sq_sz, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQ_RING);
	if (r->sq_ptr == MAP_FAILED) {
		e = errno;
		r->sq_ptr = NULL;
		fail_errno("mmap(IORING_OFF_SQ_RING)", e);
		goto err;
	}
	if (p.features & IORING_FEAT_SINGLE_MMAP) {
		r->cq_ptr = r->sq_ptr;
	} else {
		r->cq_ptr = mmap(NULL, r->cq_sz, PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_POPULATE, r->fd,
				 IORING_OFF_CQ_RING);
		if (r->cq_ptr == MAP_FAILED) {
			e = errno;
			r->cq_ptr = NULL;
			fail_errno("mmap(IORING_OFF_CQ_RING)", e);
			goto err;
		}
	}
	r->sqes_sz = p.sq_entries * sizeof(struct io_uring_sqe);
	r->sqes = mmap(NULL, r->sqes_sz, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQES);
	if (r->sqes == MAP_FAILED) {
		e = errno;
		r->sqes = NULL;
		fail_errno("mmap(IORING_OFF_SQES)", e);
		goto err;
	}

	r->sq_head = (unsigned *)((char *)r->sq_ptr + p.sq_off.head);
	r->sq_tail = (unsigned *)((char *)r->sq_ptr + p.sq_off.tail);
	r->sq_mask = (unsigned *)((char *)r->sq_ptr + p.sq_off.ring_mask);
	r->sq_array = (unsigned *)((char *)r->sq_ptr + p.sq_off.array);
	r->sq_local_tail = *r->sq_tail;
	r->cq_head = (unsigned *)((char *)r->cq_ptr + p.cq_off.head);
	r->cq_tail = (unsigned *)((char *)r->cq_ptr + p.cq_off.tail);
	r->cq_mask = (unsigned *)((char *)r->cq_ptr + p.cq_off.ring_mask);
	r->cqes = (struct io_uring_cqe *)((char *)r->cq_ptr + p.cq_off.cqes);
	return 0;
err:
	ring_exit(r);
	return e;
}

static struct io_uring_sqe *ring_get_sqe(struct ring *r)
{
	unsigned head = load_acq(r->sq_head);
	unsigned idx;
	struct io_uring_sqe *sqe;

	if (r->sq_local_tail - head >= r->sq_entries)
		return NULL;
	idx = r->sq_local_tail & *r->sq_mask;
	sqe = &r->sqes[idx];
	memset(sqe, 0, sizeof(*sqe));
	r->sq_array[idx] = idx;
	r->sq_local_tail++;
	return sqe;
}

/* publish prepared SQEs; returns how many the kernel has not consumed */
static unsigned ring_flush_sq(struct ring *r)
{
	store_rel(r->sq_tail, r->sq_local_tail);
	return r->sq_local_tail - load_acq(r->sq_head);
}

/* submit + wait for >= 1 CQE or timeout; returns 0 or an errno value */
static int ring_submit_wait(struct ring *r, unsigned timeout_ms)
{
	struct __kernel_timespec ts;
	struct io_uring_getevents_arg arg;
	unsigned to_submit = ring_flush_sq(r);
	int ret;

	memset(&arg, 0, sizeof(arg));
	ts.tv_sec = timeout_ms / 1000;
	ts.tv_nsec = (long long)(timeout_ms % 1000) * 1000000LL;
	arg.ts = (__u64)(uintptr_t)&ts;
	ret = sys_io_uring_enter(r->fd, to_submit, 1,
				 IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG,
				 &arg, sizeof(arg));
	if (ret < 0) {
		int e = errno;

		if (e == ETIME || e == EINTR || e == EAGAIN || e == EBUSY)
			return 0;
		return e;
	}
	return 0;
}

/* ---- zcrx registration ---------------------------------------------- */
struct zcrx {
	void *area;
	size_t area_len;
	void *rq_mem;
	size_t rq_mem_len;
	unsigned zcrx_id;
	unsigned rq_entries;
	unsigned rx_buf_len;
	__u64 area_token;
	unsigned *rq_khead, *rq_ktail;
	struct io_uring_zcrx_rqe *rqes;
	unsigned rq_tail;
};

static void zcrx_free_mem(struct zcrx *z)
{
	if (z->area)
		munmap(z->area, z->area_len);
	if (z->rq_mem)
		munmap(z->rq_mem, z->rq_mem_len);
	z->area = NULL;
	z->rq_mem = NULL;
}

static size_t page_sz(void)
{
	long ps = sysconf(_SC_PAGESIZE);

	return ps > 0 ? (size_t)ps : 4096;
}

/* refill ring region: one page of header (head/tail) + the rqe array */
static size_t rq_region_size(unsigned entries)
{
	size_t ps = page_sz();
	size_t sz = ps + (size_t)entries * sizeof(struct io_uring_zcrx_rqe);

	return (sz + ps - 1) & ~(ps - 1);
}

/* returns 0, or an errno value; mmap failures print their own message */
static int zcrx_alloc_mem(struct zcrx *z, size_t area_len, unsigned rq_entries)
{
	int e;

	memset(z, 0, sizeof(*z));
	z->area_len = area_len;
	z->rq_mem_len = rq_region_size(rq_entries);
	z->area = mmap(NULL, z->area_len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (z->area == MAP_FAILED) {
		e = errno;
		z->area = NULL;
		fail_errno("mmap(zcrx area)", e);
		return e;
	}
	/* as liburing's test/zcrx.c: keep the area on small pages */
	(void)madvise(z->area, z->area_len, MADV_NOHUGEPAGE);
	z->rq_mem = mmap(NULL, z->rq_mem_len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (z->rq_mem == MAP_FAILED) {
		e = errno;
		z->rq_mem = NULL;
		fail_errno("mmap(zcrx refill ring)", e);
		zcrx_free_mem(z);
		return e;
	}
	return 0;
}

/*
 * IORING_REGISTER_ZCRX_IFQ.  Returns 0, or the errno of io_uring_register
 * (nothing printed: callers word their own message).
 */
static int zcrx_register(struct ring *r, struct zcrx *z, unsigned if_idx,
			 unsigned if_rxq, unsigned flags, unsigned rq_entries)
{
	struct io_uring_region_desc rd;
	struct io_uring_zcrx_area_reg area;
	struct io_uring_zcrx_ifq_reg reg;

	memset(z->rq_mem, 0, z->rq_mem_len);

	memset(&rd, 0, sizeof(rd));
	rd.user_addr = (__u64)(uintptr_t)z->rq_mem;
	rd.size = z->rq_mem_len;
	rd.flags = IORING_MEM_REGION_TYPE_USER;

	memset(&area, 0, sizeof(area));
	area.addr = (__u64)(uintptr_t)z->area;
	area.len = z->area_len;
	area.flags = 0;			/* user memory, not dmabuf */

	memset(&reg, 0, sizeof(reg));
	reg.if_idx = if_idx;
	reg.if_rxq = if_rxq;
	reg.rq_entries = rq_entries;
	reg.flags = flags;
	reg.area_ptr = (__u64)(uintptr_t)&area;
	reg.region_ptr = (__u64)(uintptr_t)&rd;
	reg.rx_buf_len = 0;		/* NODEV only supports PAGE_SIZE */
	/* zcrx_id, event_desc, __resv: must be zero */

	if (sys_io_uring_register(r->fd, IORING_REGISTER_ZCRX_IFQ, &reg, 1) < 0)
		return errno;

	z->zcrx_id = reg.zcrx_id;
	z->rq_entries = reg.rq_entries;	/* rounded up to a power of 2 */
	z->rx_buf_len = reg.rx_buf_len;
	z->area_token = area.rq_area_token;
	z->rq_khead = (unsigned *)((char *)z->rq_mem + reg.offsets.head);
	z->rq_ktail = (unsigned *)((char *)z->rq_mem + reg.offsets.tail);
	z->rqes = (struct io_uring_zcrx_rqe *)((char *)z->rq_mem +
					       reg.offsets.rqes);
	z->rq_tail = 0;
	return 0;
}

/* ZCRX_CTRL_FLUSH_RQ: make the kernel consume refill entries (NODEV) */
static int zcrx_flush_rq(struct ring *r, struct zcrx *z)
{
	struct zcrx_ctrl ctrl;

	memset(&ctrl, 0, sizeof(ctrl));
	ctrl.zcrx_id = z->zcrx_id;
	ctrl.op = ZCRX_CTRL_FLUSH_RQ;
	if (sys_io_uring_register(r->fd, IORING_REGISTER_ZCRX_CTRL, &ctrl, 0) < 0)
		return errno;
	return 0;
}

/* ---- sender thread -------------------------------------------------- */
static uint8_t g_pat[VERIFY_STEP + 256];	/* g_pat[i] = (i*7+3) & 0xff */

struct sender {
	pthread_t thr;
	unsigned short port;
	double seconds;
	volatile int stop;
	uint64_t sent;
	int err;		/* errno of the failing call, 0 if none */
	const char *err_what;
};

static void *sender_main(void *arg)
{
	struct sender *s = arg;
	struct sockaddr_in sin;
	uint8_t *buf;
	double deadline;
	int fd, i;

	buf = malloc(SEND_CHUNK + 256);
	if (!buf) {
		s->err = ENOMEM;
		s->err_what = "malloc(send buffer)";
		return NULL;
	}
	for (i = 0; i < SEND_CHUNK + 256; i++)
		buf[i] = (uint8_t)(i * 7 + 3);

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		s->err = errno;
		s->err_what = "socket(sender)";
		free(buf);
		return NULL;
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(s->port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		s->err = errno;
		s->err_what = "connect(127.0.0.1)";
		goto out;
	}

	deadline = now_s() + s->seconds;
	while (!__atomic_load_n(&s->stop, __ATOMIC_RELAXED) &&
	       now_s() < deadline) {
		ssize_t n = send(fd, buf + (s->sent & 255), SEND_CHUNK,
				 MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			s->err = errno;
			s->err_what = "send";
			goto out;
		}
		s->sent += (uint64_t)n;
	}
	if (shutdown(fd, SHUT_WR) < 0 && !s->err) {
		s->err = errno;
		s->err_what = "shutdown(sender, SHUT_WR)";
	}
out:
	close(fd);
	free(buf);
	return NULL;
}

/* ---- receiver ------------------------------------------------------- */
struct stats {
	uint64_t bytes;
	uint64_t cqes;
	uint64_t verify_errors;
	uint64_t rearms_nomem, rearms_nospc;
	uint64_t flushes;
	bool reported_mismatch;
};

static uint64_t verify_chunk(struct stats *st, const uint8_t *data, size_t n,
			     uint64_t stream_off)
{
	uint64_t bad = 0;

	while (n) {
		size_t k = n > VERIFY_STEP ? VERIFY_STEP : n;
		const uint8_t *exp = g_pat + (stream_off & 255);

		if (memcmp(data, exp, k)) {
			size_t i;

			for (i = 0; i < k; i++) {
				if (data[i] == exp[i])
					continue;
				if (!st->reported_mismatch) {
					st->reported_mismatch = true;
					fprintf(stderr,
						"zcrx: first mismatch at stream offset %" PRIu64
						": got 0x%02x, expected 0x%02x\n",
						stream_off + i, data[i], exp[i]);
				}
				bad++;
			}
		}
		data += k;
		n -= k;
		stream_off += k;
	}
	return bad;
}

static bool rq_full(struct zcrx *z)
{
	return z->rq_tail - load_acq(z->rq_khead) >= z->rq_entries;
}

static void rq_push(struct zcrx *z, __u64 area_off, __u32 len)
{
	struct io_uring_zcrx_rqe *rqe;

	rqe = &z->rqes[z->rq_tail & (z->rq_entries - 1)];
	rqe->off = (area_off & ~IORING_ZCRX_AREA_MASK) | z->area_token;
	rqe->len = len;
	rqe->__pad = 0;
	store_rel(z->rq_ktail, ++z->rq_tail);
}

static bool queue_recv_zc(struct ring *r, int sockfd, unsigned zcrx_id)
{
	struct io_uring_sqe *sqe = ring_get_sqe(r);

	if (!sqe)
		return false;
	sqe->opcode = IORING_OP_RECV_ZC;
	sqe->fd = sockfd;
	sqe->ioprio = IORING_RECV_MULTISHOT;	/* multishot is mandatory */
	sqe->len = 0;				/* unlimited */
	sqe->zcrx_ifq_idx = zcrx_id;
	sqe->user_data = UD_RECV;
	return true;
}

/* flush the refill queue; 0 or errno (message printed) */
static int do_flush(struct ring *r, struct zcrx *z, struct stats *st)
{
	int tries, e;

	for (tries = 0; tries < 4; tries++) {
		e = zcrx_flush_rq(r, z);
		if (e) {
			fail_errno("io_uring_register(IORING_REGISTER_ZCRX_CTRL, "
				   "ZCRX_CTRL_FLUSH_RQ)", e);
			return e;
		}
		st->flushes++;
		if (load_acq(z->rq_khead) == z->rq_tail)
			return 0;
	}
	/* the kernel stops a flush at an entry it rejects */
	printf("zcrx: ZCRX_CTRL_FLUSH_RQ left %u refill entries unconsumed\n",
	       z->rq_tail - load_acq(z->rq_khead));
	return EIO;
}

/*
 * The receive loop.  Returns 0 when the peer's EOF was seen, 1 on error
 * (message printed).
 */
static int receive(struct ring *r, struct zcrx *z, int connfd,
		   double deadline, struct stats *st)
{
	uint64_t idle_rearms = 0;
	bool eof = false;
	int e;

	if (!queue_recv_zc(r, connfd, z->zcrx_id)) {
		printf("zcrx: no free SQE for IORING_OP_RECV_ZC\n");
		return 1;
	}

	while (!eof) {
		unsigned head, tail, pushed = 0;
		bool rearm = false;

		e = ring_submit_wait(r, WAIT_MS);
		if (e) {
			fail_errno("io_uring_enter", e);
			return 1;
		}

		head = *r->cq_head;
		tail = load_acq(r->cq_tail);
		for (; head != tail; head++) {
			struct io_uring_cqe *cqe =
				&r->cqes[(head & *r->cq_mask) << 1];	/* CQE32 */
			struct io_uring_zcrx_cqe *rcqe =
				(struct io_uring_zcrx_cqe *)(cqe + 1);
			__u64 off;

#ifdef IORING_CQE_F_SKIP
			if (cqe->flags & IORING_CQE_F_SKIP)
				continue;
#endif
			if (cqe->user_data != UD_RECV) {
				printf("zcrx: unexpected CQE user_data=%llu res=%d\n",
				       (unsigned long long)cqe->user_data, cqe->res);
				continue;
			}
			if (cqe->res < 0) {
				int err = -cqe->res;

				if (cqe->flags & IORING_CQE_F_MORE) {
					printf("zcrx: IORING_OP_RECV_ZC CQE error with F_MORE: "
					       "%s (errno %d)\n", strerror(err), err);
					return 1;
				}
				/*
				 * ENOMEM: the area's freelist ran dry (buffers
				 * still with us / not yet flushed).  ENOSPC: the
				 * CQ was full.  Both terminate the multishot
				 * request with no data lost: re-arm it.
				 */
				if (err == ENOMEM || err == ENOSPC) {
					if (err == ENOMEM)
						st->rearms_nomem++;
					else
						st->rearms_nospc++;
					rearm = true;
					continue;
				}
				printf("zcrx: IORING_OP_RECV_ZC failed: %s (errno %d)\n",
				       strerror(err), err);
				return 1;
			}
			if (cqe->res == 0) {
				if (!(cqe->flags & IORING_CQE_F_MORE))
					eof = true;
				continue;
			}

			/* a data completion */
			st->cqes++;
			idle_rearms = 0;
			off = rcqe->off & ~IORING_ZCRX_AREA_MASK;
			if ((rcqe->off & IORING_ZCRX_AREA_MASK) != z->area_token ||
			    off >= z->area_len ||
			    (__u64)cqe->res > z->area_len - off) {
				printf("zcrx: CQE off 0x%llx len %d outside the area\n",
				       (unsigned long long)rcqe->off, cqe->res);
				st->verify_errors += (uint64_t)cqe->res;
				st->bytes += (uint64_t)cqe->res;
			} else {
				st->verify_errors += verify_chunk(st,
					(const uint8_t *)z->area + off,
					(size_t)cqe->res, st->bytes);
				st->bytes += (uint64_t)cqe->res;
				if (rq_full(z)) {
					e = do_flush(r, z, st);
					if (e)
						return 1;
				}
				rq_push(z, rcqe->off, (__u32)cqe->res);
				pushed++;
			}
			if (!(cqe->flags & IORING_CQE_F_MORE))
				rearm = true;	/* should not happen with len=0 */
		}
		store_rel(r->cq_head, head);

		/* NODEV: returned buffers only come back on a flush */
		if (pushed) {
			e = do_flush(r, z, st);
			if (e)
				return 1;
		}
		if (rearm && !eof) {
			if (++idle_rearms > MAX_IDLE_REARMS) {
				printf("zcrx: IORING_OP_RECV_ZC keeps failing with "
				       "ENOMEM/ENOSPC without data\n");
				return 1;
			}
			if (!queue_recv_zc(r, connfd, z->zcrx_id)) {
				printf("zcrx: no free SQE to re-arm IORING_OP_RECV_ZC\n");
				return 1;
			}
		}
		if (!eof && now_s() > deadline) {
			printf("zcrx: timed out waiting for the sender's EOF "
			       "(received %" PRIu64 " bytes)\n", st->bytes);
			return 1;
		}
	}
	return 0;
}

/* ---- step 3: a device registration on lo must fail ---------------- */
static int try_lo(void)
{
	struct ring r2;
	struct zcrx z2;
	unsigned idx;
	int e, ret = 0;

	idx = if_nametoindex("lo");
	if (!idx) {
		e = errno;
		printf("zcrx: register on lo: skipped, if_nametoindex(lo) failed: "
		       "%s (errno %d)\n", strerror(e), e);
		return 0;
	}
	/* a scratch ring, so an unexpected success is undone by closing it */
	if (ring_init(&r2, 8, 16))
		return 1;
	if (zcrx_alloc_mem(&z2, 16 * page_sz(), 16)) {
		ring_exit(&r2);
		return 1;
	}
	e = zcrx_register(&r2, &z2, idx, 0, 0, 16);
	if (e) {
		printf("zcrx: register on lo: %s\n", errname(e));
	} else {
		printf("zcrx: register on lo: unexpectedly succeeded "
		       "(zcrx_id=%u); closing it\n", z2.zcrx_id);
		ret = 1;
	}
	ring_exit(&r2);
	zcrx_free_mem(&z2);
	return ret;
}

/* ---- main ----------------------------------------------------------- */
static int parse_uint(const char *s, unsigned long min, unsigned long max,
		      unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
	struct sender snd;
	struct stats st;
	struct ring r;
	struct zcrx z;
	struct sockaddr_in sin;
	struct pollfd pfd;
	unsigned long seconds, port = DEFAULT_PORT;
	bool thread_started = false;
	int lfd = -1, connfd = -1, one = 1, rc = 1, e, i;
	int lo_failed;
	double t0 = 0, t1 = 0, elapsed;

	if (argc < 2 || argc > 3 ||
	    parse_uint(argv[1], 1, 86400, &seconds) ||
	    (argc == 3 && parse_uint(argv[2], 1, 65535, &port))) {
		fprintf(stderr, "usage: %s SECONDS [PORT]   (default port %d)\n",
			argv[0], DEFAULT_PORT);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	memset(&st, 0, sizeof(st));
	memset(&snd, 0, sizeof(snd));
	for (i = 0; i < (int)sizeof(g_pat); i++)
		g_pat[i] = (uint8_t)(i * 7 + 3);

	/* best effort: without CAP_IPC_LOCK the area counts against memlock */
	(void)setrlimit(RLIMIT_MEMLOCK, &rl);

	/* 1. the ring */
	e = ring_init(&r, SQ_ENTRIES, CQ_ENTRIES);
	if (e) {
		if (e == ENOSYS) {
			printf("zcrx: unsupported: no io_uring in this kernel\n");
			return 0;
		}
		return 1;
	}

	/* 2. zcrx without a device */
	if (zcrx_alloc_mem(&z, AREA_BYTES, RQ_ENTRIES)) {
		ring_exit(&r);
		return 1;
	}
	e = zcrx_register(&r, &z, 0, 0, ZCRX_REG_NODEV, RQ_ENTRIES);
	if (e) {
		bool unsupported = e == EINVAL || e == EOPNOTSUPP || e == ENOSYS;

		printf("zcrx: %sregister (no device) failed: %s (errno %d)\n",
		       unsupported ? "unsupported: " : "", strerror(e), e);
		if (e == EPERM)
			printf("zcrx: hint: IORING_REGISTER_ZCRX_IFQ needs CAP_NET_ADMIN\n");
		if (e == ENOMEM)
			printf("zcrx: hint: without CAP_IPC_LOCK the area and refill "
			       "ring count against RLIMIT_MEMLOCK\n");
		ring_exit(&r);
		zcrx_free_mem(&z);
		return unsupported ? 0 : 1;
	}
	printf("zcrx: registered (no device): zcrx_id=%u rq_entries=%u "
	       "area_bytes=%zu rx_buf_len=%u\n",
	       z.zcrx_id, z.rq_entries, z.area_len, z.rx_buf_len);

	/* 3. with a device that has no DMA device: must fail */
	lo_failed = try_lo();

	/* 4. listener + sender */
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0) {
		fail_errno("socket(listener)", errno);
		goto out;
	}
	if (setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) {
		fail_errno("setsockopt(SO_REUSEADDR)", errno);
		goto out;
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		fail_errno("bind(127.0.0.1)", errno);
		goto out;
	}
	if (listen(lfd, 1) < 0) {
		fail_errno("listen", errno);
		goto out;
	}

	snd.port = (unsigned short)port;
	snd.seconds = (double)seconds;
	e = pthread_create(&snd.thr, NULL, sender_main, &snd);
	if (e) {
		fail_errno("pthread_create(sender)", e);
		goto out;
	}
	thread_started = true;

	pfd.fd = lfd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	do {
		e = poll(&pfd, 1, ACCEPT_MS);
	} while (e < 0 && errno == EINTR);
	if (e < 0) {
		fail_errno("poll(listener)", errno);
		goto out;
	}
	if (e == 0) {
		printf("zcrx: accept timed out after %d ms (sender: %s)\n",
		       ACCEPT_MS, snd.err_what ? snd.err_what : "no error yet");
		goto out;
	}
	connfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (connfd < 0) {
		fail_errno("accept4", errno);
		goto out;
	}

	/* 5. receive with IORING_OP_RECV_ZC */
	t0 = now_s();
	if (receive(&r, &z, connfd, t0 + (double)seconds + GRACE_S, &st))
		goto out;
	t1 = now_s();
	rc = 0;
out:
	if (thread_started) {
		if (rc) {
			/* unblock a sender stuck in send()/connect() */
			__atomic_store_n(&snd.stop, 1, __ATOMIC_RELAXED);
			if (connfd >= 0)
				shutdown(connfd, SHUT_RDWR);
			if (lfd >= 0) {
				close(lfd);
				lfd = -1;
			}
		}
		pthread_join(snd.thr, NULL);
		if (snd.err && rc == 0) {
			fail_errno(snd.err_what, snd.err);
			rc = 1;
		}
	}
	if (connfd >= 0)
		close(connfd);
	if (lfd >= 0)
		close(lfd);
	ring_exit(&r);		/* drops the zcrx instance and its pins */
	zcrx_free_mem(&z);

	if (rc)
		return 1;

	/* 6. results */
	elapsed = t1 - t0;
	if (elapsed <= 0)
		elapsed = 1e-9;
	fprintf(stderr, "zcrx: diag: cqes=%" PRIu64 " flushes=%" PRIu64
		" rearm_enomem=%" PRIu64 " rearm_enospc=%" PRIu64
		" sent=%" PRIu64 "\n", st.cqes, st.flushes, st.rearms_nomem,
		st.rearms_nospc, snd.sent);
	printf("zcrx: bytes=%" PRIu64 " cqes=%" PRIu64 " copy_mode=1 "
	       "verify_errors=%" PRIu64 " seconds=%.3f\n",
	       st.bytes, st.cqes, st.verify_errors, elapsed);
	printf("throughput_mib_s=%.1f\n",
	       (double)st.bytes / (1024.0 * 1024.0) / elapsed);

	if (st.bytes != snd.sent) {
		printf("zcrx: stream length mismatch: received %" PRIu64
		       " bytes, sender sent %" PRIu64 "\n", st.bytes, snd.sent);
		rc = 1;
	}
	if (st.verify_errors > 0 || st.bytes == 0 || lo_failed)
		rc = 1;
	return rc;
}

#endif /* NR_ZCRX */
