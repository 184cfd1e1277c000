/* SPDX-License-Identifier: Apache-2.0 */
/* `ottod init` (init.c): set up a secure deployment in a data directory. */
#ifndef SRV_INIT_H
#define SRV_INIT_H

/** argv[0] is "init". Exit status: 0, 1 (failed; says why), 2 (usage). */
int srv_init_main(int argc, char **argv);

#endif
