/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTTO_SIM_H
#define OTTO_SIM_H

int cmd_mkflash(int argc, char **argv);
int cmd_boot(int argc, char **argv);
int cmd_ota(int argc, char **argv);

#endif
