/* The yardstick: a C client on libxcb-shm doing serial ShmGetImage and ShmPutImage-and-wait loops on
 * the root window, the same work bench/run.mjs measures for @xshm/mit-shm.
 *   xcb-shm WIDTH HEIGHT SECONDS   (DISPLAY from the environment)
 * Prints one JSON line: {"capture": fps, "put": fps}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <time.h>
#include <xcb/shm.h>
#include <xcb/xcb.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: xcb-shm WIDTH HEIGHT SECONDS\n");
    return 2;
  }
  int width = atoi(argv[1]), height = atoi(argv[2]);
  double seconds = atof(argv[3]);
  xcb_connection_t *c = xcb_connect(NULL, NULL);
  if (xcb_connection_has_error(c)) {
    fprintf(stderr, "xcb-shm: cannot connect to DISPLAY\n");
    return 1;
  }
  xcb_screen_t *screen = xcb_setup_roots_iterator(xcb_get_setup(c)).data;
  size_t size = (size_t)width * height * 4;
  int shmid = shmget(IPC_PRIVATE, size, IPC_CREAT | 0600);
  if (shmid < 0) {
    perror("shmget");
    return 1;
  }
  void *memory = shmat(shmid, NULL, 0);
  xcb_shm_seg_t seg = xcb_generate_id(c);
  xcb_generic_error_t *error = xcb_request_check(c, xcb_shm_attach_checked(c, seg, shmid, 0));
  shmctl(shmid, IPC_RMID, NULL);
  if (error) {
    fprintf(stderr, "xcb-shm: ShmAttach failed (error %d)\n", error->error_code);
    return 1;
  }
  const xcb_query_extension_reply_t *ext = xcb_get_extension_data(c, &xcb_shm_id);
  xcb_gcontext_t gc = xcb_generate_id(c);
  xcb_create_gc(c, gc, screen->root, 0, NULL);

  long captures = 0;
  double start = now(), end = start + seconds;
  while (now() < end) {
    xcb_shm_get_image_reply_t *reply = xcb_shm_get_image_reply(
        c, xcb_shm_get_image(c, screen->root, 0, 0, width, height, ~0u, XCB_IMAGE_FORMAT_Z_PIXMAP, seg, 0), NULL);
    if (!reply) {
      fprintf(stderr, "xcb-shm: ShmGetImage failed\n");
      return 1;
    }
    free(reply);
    captures++;
  }
  double captureFps = captures / (now() - start);

  long puts = 0;
  start = now();
  end = start + seconds;
  while (now() < end) {
    xcb_shm_put_image(c, screen->root, gc, width, height, 0, 0, width, height, 0, 0, screen->root_depth,
                      XCB_IMAGE_FORMAT_Z_PIXMAP, 1, seg, 0);
    xcb_flush(c);
    for (;;) {
      xcb_generic_event_t *event = xcb_wait_for_event(c);
      if (!event) {
        fprintf(stderr, "xcb-shm: connection lost\n");
        return 1;
      }
      int completed = (event->response_type & 0x7f) == ext->first_event + XCB_SHM_COMPLETION;
      free(event);
      if (completed) break;
    }
    puts++;
  }
  double putFps = puts / (now() - start);

  xcb_shm_detach(c, seg);
  shmdt(memory);
  xcb_disconnect(c);
  printf("{\"capture\": %.1f, \"put\": %.1f}\n", captureFps, putFps);
  return 0;
}
