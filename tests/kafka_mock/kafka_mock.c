/*
 * kafka_mock.c - a Kafka cluster for the tests, in one small process.
 *
 * librdkafka ships a mock cluster: real Kafka protocol brokers (produce,
 * idempotent produce, fetch, consumer groups, offset commits) that live inside
 * an rd_kafka_t handle. This program owns such a handle, creates the topics a
 * test asks for, proves over TCP that they answer, and only then announces the
 * bootstrap list, so that separate processes (kcat, logferry) can use it as if
 * it were a cluster. It listens on 127.0.0.1 only.
 *
 * A test steers it at run time with signals (SIGUSR1: all brokers down,
 * SIGUSR2: all up) or with line commands on a FIFO. Signals are blocked before
 * librdkafka starts its threads and read from a signalfd in the main loop, so
 * no work happens in a signal handler. Every applied command is acknowledged
 * with a line on stdout, which a test can wait for with a deadline.
 *
 * See tests/kafka_mock/README.md for what clients need against the mock.
 */
#define _GNU_SOURCE
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_TOPICS 64
#define MAX_BROKERS 16
#define CONTROL_LINE_MAX 1024
#define READY_TIMEOUT_MS 10000

struct topic_spec {
    const char *name;
    int partitions;
    int replication; /* 0: min(brokers, 3) */
};

struct mock {
    int brokers;
    struct topic_spec topics[MAX_TOPICS];
    int topic_cnt;
    const char *bootstrap_file;
    const char *control_path;
    int debug;

    rd_kafka_t *rk; /* the handle the cluster lives in */
    rd_kafka_mock_cluster_t *cluster;
    int sigfd;
    int control_fd;      /* read end of the FIFO, or -1 */
    int control_keep_fd; /* our own write end: no EOF when writers come and go */
    int control_made;    /* we created the FIFO, so we remove it */
    char line[CONTROL_LINE_MAX];
    size_t line_len;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: lf_kafka_mock [--brokers N] [--topic NAME:PARTITIONS[:REPLICATION]]...\n"
            "                     [--bootstrap-file FILE] [--control FIFO] [--debug]\n"
            "\n"
            "Runs a librdkafka mock Kafka cluster on 127.0.0.1 until SIGTERM or SIGINT\n"
            "(then exits 0), or until its parent process dies.\n"
            "\n"
            "  --brokers N              brokers, ids 1..N (default 1, at most %d)\n"
            "  --topic NAME:P[:R]       create topic NAME with P partitions, replication\n"
            "                           R (default min(N, 3), at most N); repeatable\n"
            "  --bootstrap-file FILE    once the cluster answers, write the bootstrap list\n"
            "                           to FILE (temporary file + rename)\n"
            "  --control FIFO           read commands from FIFO (created if missing)\n"
            "  --debug                  librdkafka debug=mock,broker on stderr\n"
            "\n"
            "stdout: line 1 is the bootstrap list \"127.0.0.1:PORT,...\", printed once the\n"
            "topics answer over TCP; then one line per applied command: \"ok COMMAND\",\n"
            "or \"err COMMAND\" with the reason on stderr. Exit status: 0 after\n"
            "SIGTERM/SIGINT, 2 on any error (with a message on stderr).\n"
            "\n"
            "Signals: SIGUSR1 = command \"down\" (all brokers), SIGUSR2 = \"up\".\n"
            "A command takes effect when its ack is printed (up to ~1 s in 2.0.2).\n"
            "Commands (one per line on the FIFO; BROKER is an id or \"all\"):\n"
            "  down [BROKER]            close the listener and every connection: clients\n"
            "                           get \"connection refused\" (leaders do not move)\n"
            "  up [BROKER]              listen again, on the same port\n"
            "  rtt BROKER MS            delay every answer by MS milliseconds\n"
            "  leader TOPIC PART BROKER move a partition's leader\n"
            "  error APIKEY CODE [CNT]  the next CNT requests (default 1) of Kafka API\n"
            "                           APIKEY (0 Produce, 1 Fetch, 8 OffsetCommit, ...)\n"
            "                           fail with Kafka error CODE (e.g. 6, 7, 19)\n",
            MAX_BROKERS);
}

/* What die() removes: files this process made and has not handed over. */
static const char *made_tmp_file;
static const char *made_fifo;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
    va_list ap;
    fputs("lf_kafka_mock: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (made_tmp_file)
        unlink(made_tmp_file);
    if (made_fifo)
        unlink(made_fifo);
    exit(2);
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

/* NAME:PARTITIONS[:REPLICATION]; the name stays in argv. */
static void parse_topic(char *arg, struct topic_spec *t)
{
    char *colon = strchr(arg, ':');
    if (!colon || colon == arg)
        die("--topic %s: expected NAME:PARTITIONS[:REPLICATION]", arg);
    *colon = '\0';
    char *rf = strchr(colon + 1, ':');
    if (rf)
        *rf++ = '\0';
    t->name = arg;
    if (parse_int(colon + 1, 1, 10000, &t->partitions) < 0)
        die("--topic %s: partitions must be 1..10000, not '%s'", arg, colon + 1);
    t->replication = 0;
    if (rf && parse_int(rf, 1, MAX_BROKERS, &t->replication) < 0)
        die("--topic %s: bad replication factor '%s'", arg, rf);
}

static void parse_args(struct mock *m, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"brokers", required_argument, NULL, 'b'},
        {"topic", required_argument, NULL, 't'},
        {"bootstrap-file", required_argument, NULL, 'f'},
        {"control", required_argument, NULL, 'c'},
        {"debug", no_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;
    m->brokers = 1;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'b':
            if (parse_int(optarg, 1, MAX_BROKERS, &m->brokers) < 0)
                die("--brokers must be 1..%d, not '%s'", MAX_BROKERS, optarg);
            break;
        case 't':
            if (m->topic_cnt == MAX_TOPICS)
                die("at most %d topics", MAX_TOPICS);
            parse_topic(optarg, &m->topics[m->topic_cnt++]);
            break;
        case 'f':
            m->bootstrap_file = optarg;
            break;
        case 'c':
            m->control_path = optarg;
            break;
        case 'd':
            m->debug = 1;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            exit(2);
        }
    }
    if (optind < argc) {
        usage(stderr);
        die("unexpected argument '%s'", argv[optind]);
    }
    for (int i = 0; i < m->topic_cnt; i++) {
        struct topic_spec *t = &m->topics[i];
        if (t->replication == 0)
            t->replication = m->brokers < 3 ? m->brokers : 3;
        if (t->replication > m->brokers)
            die("topic %s: replication %d > %d brokers", t->name, t->replication, m->brokers);
    }
}

/*
 * Blocks the signals we serve before any librdkafka thread exists, so the
 * threads inherit the mask and the signals can only arrive through the
 * signalfd. Dies on failure.
 */
static int open_signalfd(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        die("sigprocmask: %s", strerror(errno));
    int fd = signalfd(-1, &set, SFD_CLOEXEC);
    if (fd < 0)
        die("signalfd: %s", strerror(errno));
    signal(SIGPIPE, SIG_IGN); /* a closed stdout must not kill the cluster */
    return fd;
}

/*
 * A test that is killed (ctest timeout) cannot stop us by PID: take SIGTERM
 * when the parent goes, and stop at once if it is already gone.
 */
static void follow_parent(void)
{
    pid_t parent = getppid();
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)
        die("prctl: %s", strerror(errno));
    if (getppid() != parent)
        die("parent exited before the cluster started");
}

static void conf_set(rd_kafka_conf_t *conf, const char *name, const char *value)
{
    char err[256];
    if (rd_kafka_conf_set(conf, name, value, err, sizeof(err)) != RD_KAFKA_CONF_OK)
        die("config %s=%s: %s", name, value, err);
}

static void start_cluster(struct mock *m)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    conf_set(conf, "client.id", "kafka_mock");
    /*
     * This handle never connects anywhere; it only hosts the cluster. Without
     * bootstrap.servers it warns once at notice level, which log_level 4 hides.
     */
    if (m->debug)
        conf_set(conf, "debug", "mock,broker");
    else
        conf_set(conf, "log_level", "4");
    m->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!m->rk)
        die("rd_kafka_new: %s", err); /* conf is still ours, but we exit */
    m->cluster = rd_kafka_mock_cluster_new(m->rk, m->brokers);
    if (!m->cluster)
        die("rd_kafka_mock_cluster_new(%d brokers) failed", m->brokers);
    for (int i = 0; i < m->topic_cnt; i++) {
        const struct topic_spec *t = &m->topics[i];
        rd_kafka_resp_err_t e =
            rd_kafka_mock_topic_create(m->cluster, t->name, t->partitions, t->replication);
        if (e)
            die("topic %s: %s", t->name, rd_kafka_err2str(e));
    }
}

/* 0 if every requested topic is in md with its partition count, else -1. */
static int topics_match(const struct mock *m, const rd_kafka_metadata_t *md)
{
    for (int i = 0; i < m->topic_cnt; i++) {
        int found = 0;
        for (int j = 0; j < md->topic_cnt; j++) {
            const rd_kafka_metadata_topic_t *mt = &md->topics[j];
            if (strcmp(mt->topic, m->topics[i].name) == 0 && !mt->err &&
                mt->partition_cnt == m->topics[i].partitions)
                found = 1;
        }
        if (!found)
            return -1;
    }
    return 0;
}

/*
 * Asks the cluster for its metadata over TCP, as a client would, until the
 * topics are there or READY_TIMEOUT_MS passes. Dies on timeout.
 */
static void wait_ready(const struct mock *m)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    conf_set(conf, "client.id", "kafka_mock_probe");
    conf_set(conf, "bootstrap.servers", rd_kafka_mock_cluster_bootstraps(m->cluster));
    conf_set(conf, "allow.auto.create.topics", "false");
    rd_kafka_t *probe = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!probe)
        die("probe rd_kafka_new: %s", err);
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR__TIMED_OUT;
    for (int waited = 0; waited < READY_TIMEOUT_MS; waited += 1000) {
        const rd_kafka_metadata_t *md = NULL;
        e = rd_kafka_metadata(probe, 1, NULL, &md, 1000);
        if (!e) {
            int ok = topics_match(m, md) == 0;
            rd_kafka_metadata_destroy(md);
            if (ok)
                break;
            e = RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
        }
    }
    rd_kafka_destroy(probe);
    if (e)
        die("cluster not ready after %d ms: %s", READY_TIMEOUT_MS, rd_kafka_err2str(e));
}

/*
 * The bootstrap file is opened before the cluster starts, so that a bad path
 * fails at once; it gets its content and its name only once the cluster is
 * ready.
 */
static FILE *open_bootstrap_tmp(const char *path, char *tmp, size_t tmp_size)
{
    if (snprintf(tmp, tmp_size, "%s.tmp.%ld", path, (long)getpid()) >= (int)tmp_size)
        die("--bootstrap-file: path too long");
    FILE *f = fopen(tmp, "w");
    if (!f)
        die("%s: %s", tmp, strerror(errno));
    made_tmp_file = tmp;
    return f;
}

static void publish_bootstrap_file(FILE *f, const char *tmp, const char *path,
                                   const char *bootstraps)
{
    int bad = fprintf(f, "%s\n", bootstraps) < 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) < 0)
        die("%s: %s", path, strerror(errno));
    made_tmp_file = NULL;
}

static void open_control(struct mock *m)
{
    m->control_fd = m->control_keep_fd = -1;
    if (!m->control_path)
        return;
    if (mkfifo(m->control_path, 0600) == 0) {
        m->control_made = 1;
        made_fifo = m->control_path;
    } else if (errno != EEXIST)
        die("mkfifo %s: %s", m->control_path, strerror(errno));
    m->control_fd = open(m->control_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (m->control_fd < 0)
        die("%s: %s", m->control_path, strerror(errno));
    struct stat st;
    if (fstat(m->control_fd, &st) < 0 || !S_ISFIFO(st.st_mode))
        die("%s: not a FIFO", m->control_path);
    m->control_keep_fd = open(m->control_path, O_WRONLY | O_CLOEXEC);
    if (m->control_keep_fd < 0)
        die("%s: %s", m->control_path, strerror(errno));
}

/* "all" is -1, which the 2.0.2 mock applies to every broker; otherwise 1..brokers. */
static int parse_broker(const struct mock *m, const char *s, int32_t *id)
{
    int v;
    if (!s || strcmp(s, "all") == 0) {
        *id = -1;
        return 0;
    }
    if (parse_int(s, 1, m->brokers, &v) < 0)
        return -1;
    *id = v;
    return 0;
}

static int cmd_error(struct mock *m, char **argv, int argc, const char **why)
{
    int apikey, code, cnt = 1;
    if (argc < 3 || argc > 4 || parse_int(argv[1], 0, 100, &apikey) < 0 ||
        parse_int(argv[2], -200, 200, &code) < 0 ||
        (argc == 4 && parse_int(argv[3], 1, 100000, &cnt) < 0)) {
        *why = "usage: error APIKEY CODE [COUNT]";
        return -1;
    }
    rd_kafka_resp_err_t *errs = malloc(sizeof(*errs) * (size_t)cnt);
    if (!errs) {
        *why = "out of memory";
        return -1;
    }
    for (int i = 0; i < cnt; i++)
        errs[i] = (rd_kafka_resp_err_t)code;
    rd_kafka_mock_push_request_errors_array(m->cluster, (int16_t)apikey, (size_t)cnt, errs);
    free(errs);
    return 0;
}

/*
 * Runs one command line (split in place). Returns 0, or -1 with *why set.
 */
static int run_command(struct mock *m, char *line, const char **why)
{
    char *argv[8];
    int argc = 0;
    for (char *tok = strtok(line, " \t\r"); tok && argc < 8; tok = strtok(NULL, " \t\r"))
        argv[argc++] = tok;
    if (argc == 0)
        return 0;
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
    int32_t id;
    int a, b;
    if (strcmp(argv[0], "down") == 0 || strcmp(argv[0], "up") == 0) {
        *why = "usage: down|up [BROKER], BROKER is 1..brokers or all";
        if (argc > 2 || parse_broker(m, argc == 2 ? argv[1] : NULL, &id) < 0)
            return -1;
        e = argv[0][0] == 'd' ? rd_kafka_mock_broker_set_down(m->cluster, id)
                              : rd_kafka_mock_broker_set_up(m->cluster, id);
    } else if (strcmp(argv[0], "rtt") == 0) {
        *why = "usage: rtt BROKER MS, BROKER is 1..brokers or all";
        if (argc != 3 || parse_broker(m, argv[1], &id) < 0 || parse_int(argv[2], 0, 600000, &a) < 0)
            return -1;
        e = rd_kafka_mock_broker_set_rtt(m->cluster, id, a);
    } else if (strcmp(argv[0], "leader") == 0) {
        *why = "usage: leader TOPIC PARTITION BROKER";
        if (argc != 4 || parse_int(argv[2], 0, 10000, &a) < 0 ||
            parse_int(argv[3], 1, m->brokers, &b) < 0)
            return -1;
        e = rd_kafka_mock_partition_set_leader(m->cluster, argv[1], a, b);
    } else if (strcmp(argv[0], "error") == 0) {
        return cmd_error(m, argv, argc, why);
    } else {
        *why = "unknown command (down, up, rtt, leader, error)";
        return -1;
    }
    if (e) {
        *why = rd_kafka_err2str(e);
        return -1;
    }
    return 0;
}

static void command(struct mock *m, const char *text)
{
    char copy[CONTROL_LINE_MAX];
    const char *why = NULL;
    snprintf(copy, sizeof(copy), "%s", text);
    if (run_command(m, copy, &why) == 0) {
        printf("ok %s\n", text);
    } else {
        fprintf(stderr, "lf_kafka_mock: %s: %s\n", text, why);
        printf("err %s\n", text);
    }
}

/* Reads what the FIFO holds and runs every complete line. */
static void read_control(struct mock *m)
{
    for (;;) {
        ssize_t n = read(m->control_fd, m->line + m->line_len, sizeof(m->line) - m->line_len - 1);
        if (n <= 0)
            return; /* EAGAIN: drained (EOF cannot happen: we hold a writer) */
        m->line_len += (size_t)n;
        m->line[m->line_len] = '\0';
        char *start = m->line, *nl;
        while ((nl = strchr(start, '\n')) != NULL) {
            *nl = '\0';
            if (*start)
                command(m, start);
            start = nl + 1;
        }
        m->line_len -= (size_t)(start - m->line);
        memmove(m->line, start, m->line_len);
        if (m->line_len == sizeof(m->line) - 1) {
            fprintf(stderr, "lf_kafka_mock: control line over %d bytes dropped\n",
                    CONTROL_LINE_MAX - 1);
            m->line_len = 0;
        }
    }
}

/* Serves signals and commands until SIGTERM/SIGINT. */
static void run(struct mock *m)
{
    for (;;) {
        struct pollfd pfd[2] = {{.fd = m->sigfd, .events = POLLIN},
                                {.fd = m->control_fd, .events = POLLIN}};
        int n = poll(pfd, m->control_fd >= 0 ? 2 : 1, 200);
        if (n < 0 && errno != EINTR)
            die("poll: %s", strerror(errno));
        rd_kafka_poll(m->rk, 0); /* serve the host handle's error/log events */
        if (n > 0 && (pfd[1].revents & POLLIN))
            read_control(m);
        if (n <= 0 || !(pfd[0].revents & POLLIN))
            continue;
        struct signalfd_siginfo si;
        if (read(m->sigfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
            continue;
        if (si.ssi_signo == SIGUSR1)
            command(m, "down");
        else if (si.ssi_signo == SIGUSR2)
            command(m, "up");
        else
            return;
    }
}

int main(int argc, char **argv)
{
    struct mock m = {.sigfd = -1};
    char bootstrap_tmp[PATH_MAX];
    FILE *bootstrap_f = NULL;
    parse_args(&m, argc, argv);
    setvbuf(stdout, NULL, _IOLBF, 0);
    m.sigfd = open_signalfd();
    follow_parent();
    if (m.bootstrap_file)
        bootstrap_f = open_bootstrap_tmp(m.bootstrap_file, bootstrap_tmp, sizeof(bootstrap_tmp));
    open_control(&m);
    start_cluster(&m);
    wait_ready(&m);

    /* stdout first: whoever sees the file can also read line 1 */
    const char *bootstraps = rd_kafka_mock_cluster_bootstraps(m.cluster);
    printf("%s\n", bootstraps);
    if (bootstrap_f)
        publish_bootstrap_file(bootstrap_f, bootstrap_tmp, m.bootstrap_file, bootstraps);

    run(&m);

    rd_kafka_mock_cluster_destroy(m.cluster);
    rd_kafka_destroy(m.rk);
    if (m.control_made)
        unlink(m.control_path);
    return 0;
}
