/* The yardstick for @xshm/shm's create+attach+detach+destroy cycle: the same four calls in C.
 * usage: cycle SIZE ITERATIONS; prints nanoseconds per cycle. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <time.h>

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: cycle SIZE ITERATIONS\n");
    return 2;
  }
  size_t size = strtoull(argv[1], NULL, 10);
  long iterations = strtol(argv[2], NULL, 10);
  struct timespec start, end;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (long i = 0; i < iterations; i++) {
    int id = shmget(IPC_PRIVATE, size, IPC_CREAT | IPC_EXCL | 0600);
    if (id < 0) { perror("shmget"); return 1; }
    void *address = shmat(id, NULL, 0);
    if (address == (void *)-1) { perror("shmat"); return 1; }
    if (shmdt(address) != 0) { perror("shmdt"); return 1; }
    if (shmctl(id, IPC_RMID, NULL) != 0) { perror("shmctl"); return 1; }
  }
  clock_gettime(CLOCK_MONOTONIC, &end);
  double ns = (end.tv_sec - start.tv_sec) * 1e9 + (end.tv_nsec - start.tv_nsec);
  printf("%.1f\n", ns / iterations);
  return 0;
}
