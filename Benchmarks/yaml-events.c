/* The floor for `meshc lint`: libyaml's event parser alone over the same files, no tree,
 * no checks. Usage: yaml-events DIR  → prints "<files> <bytes> <events> <seconds>". */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <yaml.h>

static long files, events;
static long long bytes;

static int visit(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    (void)ftw;
    size_t n = strlen(path);
    if (type != FTW_F || n < 5 || strcmp(path + n - 5, ".yaml") != 0) return 0;
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); return 1; }
    unsigned char *buf = malloc(st->st_size + 1);
    size_t got = fread(buf, 1, st->st_size, f);
    fclose(f);
    yaml_parser_t parser;
    yaml_event_t event;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, buf, got);
    for (;;) {
        if (!yaml_parser_parse(&parser, &event)) { fprintf(stderr, "%s: parse error\n", path); break; }
        int done = event.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&event);
        events++;
        if (done) break;
    }
    yaml_parser_delete(&parser);
    free(buf);
    files++;
    bytes += got;
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: yaml-events DIR\n"); return 2; }
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    if (nftw(argv[1], visit, 64, FTW_PHYS) != 0) return 1;
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%ld %lld %ld %.3f\n", files, bytes, events, (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9);
    return 0;
}
