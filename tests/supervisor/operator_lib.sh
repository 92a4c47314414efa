# What the operator's-view tests (status.sh, metrics.sh, dryrun.sh)
# share.  Source it after tests/lib/common.sh.
#
#   node_start NAME           single_node NAME (tests/lib/common.sh:
#                             $node with kiwi0, etcd, in_node), and sets
#                             RUN (a directory for the control socket,
#                             removed at exit)
#   web_seed IP...            a seed file with default/web on IP...,
#                             port 8080/TCP; prints its path

node_start() {
	single_node "$1"
	# Not below T_TMP: the claimer runs as nobody and must reach it.
	RUN=/run/kiwi-t-$1-$$
	on_exit "rm -rf $RUN"
}

web_seed() {
	service_seed default web "$*" 8080/TCP
}
