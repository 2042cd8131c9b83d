#include <libssh/libssh.h>
#include <libssh/callbacks.h>
#include <stdio.h>
#include <string.h>

/* The signal that ended a channel's command (the server's "exit-signal" request), which libssh 0.10
 * reports only through a channel callback; ssh_channel_get_exit_status() is then -1. */
struct netrig_exit_signal {
    struct ssh_channel_callbacks_struct callbacks;
    char name[32];
};

static void netrig_on_exit_signal(ssh_session session, ssh_channel channel, const char *signal, int core,
                                  const char *errmsg, const char *lang, void *userdata) {
    (void)session; (void)channel; (void)core; (void)errmsg; (void)lang;
    struct netrig_exit_signal *state = userdata;
    snprintf(state->name, sizeof state->name, "%s", signal ? signal : "?");
}

/* Watches `channel` for its exit signal; `state` must outlive the channel. */
static inline int netrig_watch_exit_signal(ssh_channel channel, struct netrig_exit_signal *state) {
    memset(state, 0, sizeof *state);
    ssh_callbacks_init(&state->callbacks);
    state->callbacks.userdata = state;
    state->callbacks.channel_exit_signal_function = netrig_on_exit_signal;
    return ssh_set_channel_callbacks(channel, &state->callbacks);
}
