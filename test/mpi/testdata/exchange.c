/*
 * exchange: an MPI program whose ranks really talk to each other, for the
 * Flotilla MPI tests. Every rank prints one line naming its rank and the
 * IPv4 address of its host; then the ranks pass messages of 1 byte to 4 MiB
 * around a ring (point to point, checked byte by byte), and run Bcast,
 * Allreduce, Allgather and Alltoall with checked results. Rank 0 prints
 * "exchange ok" at the end.
 *
 * --exit-rank R --exit-code C: after the checks, rank R exits with status C
 * (the job's solver failing).
 */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <mpi.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int rank, size;

static void fail(const char *what, long detail) {
	fprintf(stderr, "rank %d: %s (%ld)\n", rank, what, detail);
	fflush(stderr);
	MPI_Abort(MPI_COMM_WORLD, 99);
}

/* host_ip writes the first non-loopback IPv4 address of this host. */
static void host_ip(char *buf, size_t n) {
	struct ifaddrs *ifs, *i;
	snprintf(buf, n, "unknown");
	if (getifaddrs(&ifs) != 0)
		return;
	for (i = ifs; i != NULL; i = i->ifa_next) {
		if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET)
			continue;
		struct in_addr a = ((struct sockaddr_in *)i->ifa_addr)->sin_addr;
		if ((ntohl(a.s_addr) >> 24) == 127)
			continue;
		inet_ntop(AF_INET, &a, buf, n);
		break;
	}
	freeifaddrs(ifs);
}

/* ring sends len bytes to the next rank and receives from the previous one,
 * each byte a function of the sender and the offset, and checks them. */
static void ring(int len) {
	unsigned char *out = malloc(len), *in = malloc(len);
	int next = (rank + 1) % size, prev = (rank + size - 1) % size, i;
	if (out == NULL || in == NULL)
		fail("out of memory", len);
	for (i = 0; i < len; i++)
		out[i] = (unsigned char)(rank * 31 + i);
	MPI_Sendrecv(out, len, MPI_BYTE, next, len & 0x7fff, in, len, MPI_BYTE, prev, len & 0x7fff,
	             MPI_COMM_WORLD, MPI_STATUS_IGNORE);
	for (i = 0; i < len; i++)
		if (in[i] != (unsigned char)(prev * 31 + i))
			fail("ring: wrong byte", i);
	free(out);
	free(in);
}

static void collectives(void) {
	int n = 1 << 18, i; /* 1 MiB of ints */
	int *v = malloc(n * sizeof(int)), *sum = malloc(n * sizeof(int));
	int *all = malloc(size * sizeof(int)), *a2a_out = malloc(size * sizeof(int)),
	    *a2a_in = malloc(size * sizeof(int));
	long long want;
	if (!v || !sum || !all || !a2a_out || !a2a_in)
		fail("out of memory", n);

	for (i = 0; i < n; i++)
		v[i] = rank == 0 ? i ^ 0x5a5a : 0;
	MPI_Bcast(v, n, MPI_INT, 0, MPI_COMM_WORLD);
	for (i = 0; i < n; i++)
		if (v[i] != (i ^ 0x5a5a))
			fail("bcast: wrong value at", i);

	for (i = 0; i < n; i++)
		v[i] = rank + i;
	MPI_Allreduce(v, sum, n, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
	for (i = 0; i < n; i++) {
		want = (long long)size * (size - 1) / 2 + (long long)size * i;
		if (sum[i] != (int)want)
			fail("allreduce: wrong sum at", i);
	}

	MPI_Allgather(&rank, 1, MPI_INT, all, 1, MPI_INT, MPI_COMM_WORLD);
	for (i = 0; i < size; i++)
		if (all[i] != i)
			fail("allgather: wrong rank at", i);

	for (i = 0; i < size; i++)
		a2a_out[i] = rank * 1000 + i;
	MPI_Alltoall(a2a_out, 1, MPI_INT, a2a_in, 1, MPI_INT, MPI_COMM_WORLD);
	for (i = 0; i < size; i++)
		if (a2a_in[i] != i * 1000 + rank)
			fail("alltoall: wrong value from", i);

	free(v);
	free(sum);
	free(all);
	free(a2a_out);
	free(a2a_in);
}

int main(int argc, char **argv) {
	int exit_rank = -1, exit_code = 0, len, i;
	char ip[64];
	for (i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--exit-rank") == 0)
			exit_rank = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--exit-code") == 0)
			exit_code = atoi(argv[i + 1]);
	}
	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	host_ip(ip, sizeof ip);
	printf("rank %d of %d on %s\n", rank, size, ip);
	fflush(stdout);

	for (len = 1; len <= 4 << 20; len *= 4)
		ring(len);
	collectives();
	MPI_Barrier(MPI_COMM_WORLD);
	if (rank == 0) {
		printf("exchange ok: %d ranks, ring 1 B to 4 MiB, bcast, allreduce, allgather, alltoall\n", size);
		fflush(stdout);
	}
	MPI_Finalize();
	if (rank == exit_rank)
		return exit_code;
	return 0;
}
