package Netns;

# Netns.pm
#	The partition harness of the TAP tests: a private network of network
#	namespaces in which each dynamod (and each client) has an address of
#	its own, and packets between chosen pairs can be dropped -- both ways
#	or one way -- and let through again.
#
#	my $net = Netns->new(nodes => 5, clients => 2);   # or skip_all
#	my $ns  = $net->node_ns(1);    # 'dyt1234-n1', address $net->node_ip(1)
#	$net->cut([1, 2], [3, 4, 5]);  # a partition: no packet crosses it
#	$net->cut_oneway(1, 2);        # node 1's packets to node 2 are lost
#	$net->heal;                    # every link works again
#	$net->run_in($net->client_ns(1), sub { ... });   # a child process there
#
#	Layout: one namespace "PREFIX-br" holds a bridge; every node and client
#	namespace is joined to it by a veth pair made inside the bridge's
#	namespace (so no interface ever exists in the host's namespace), with
#	an address 10.77.0.x/24 that exists only in these namespaces.  Cuts are
#	an nftables set of blocked sources in each receiver's input hook:
#	dropping what one member receives from another is a one-way cut, doing
#	it on both sides a full one.  Dropping at the receiver is what a lost
#	packet looks like to the sender (silence, retransmissions); dropping in
#	the sender's output hook would not be -- the sender's own kernel would
#	refuse its connects and sends at once (EPERM).  The host's interfaces,
#	routes and firewall are never touched.
#
#	Cleanup: every namespace of this process is deleted (its processes
#	killed first) in an END block, which also runs after die and, through
#	the handlers set here, on SIGINT/SIGTERM/SIGHUP.  Namespaces left by an
#	earlier run that crashed (their prefix names a pid that no longer
#	exists) are removed when a new harness is made.

use strict;
use warnings;

use Test::More;
use POSIX qw(_exit);

use DynamoTest ();

my $PREFIX = "dyt$$";
my @MINE;    # namespaces this process made, for END
my $OWNER = $$;

# Netns->new(nodes => N, clients => C): the network, or a skip_all of the
# whole test file with the reason when namespaces cannot be made here.
sub new
{
	my ($class, %o) = @_;
	my $why = unavailable();
	plan skip_all => "partition harness: $why" if $why;
	cleanup_stale();
	my $self = bless { nodes => $o{nodes} // 3, clients => $o{clients} // 1,
		blocked => {} }, $class;
	my $br = "$PREFIX-br";
	_add_ns($br);
	_sh('ip', '-n', $br, 'link', 'add', 'br0', 'type', 'bridge');
	_sh('ip', '-n', $br, 'link', 'set', 'br0', 'up');
	my $i = 0;
	for my $ns ($self->all_ns)
	{
		$i++;
		_add_ns($ns);
		# made in the bridge's namespace, the other end moved straight into
		# the member's: the host never holds either end
		_sh('ip', '-n', $br, 'link', 'add', "v$i", 'type', 'veth', 'peer', 'name', 'eth0',
			'netns', $ns);
		_sh('ip', '-n', $br, 'link', 'set', "v$i", 'master', 'br0', 'up');
		_sh('ip', '-n', $ns, 'addr', 'add', $self->ip_of($ns) . '/24', 'dev', 'eth0');
		_sh('ip', '-n', $ns, 'link', 'set', 'eth0', 'up');
		_nft($ns, "add table inet dyncut\n"
			  . "add set inet dyncut blocked { type ipv4_addr; }\n"
			  . "add chain inet dyncut in { type filter hook input priority 0; policy accept; }\n"
			  . "add rule inet dyncut in ip saddr \@blocked drop\n");
	}
	return $self;
}

# Why this machine cannot run the harness ('' when it can).
sub unavailable
{
	return 'needs root (ip netns add)' if $> != 0;
	for my $tool (qw(ip nft))
	{
		return "$tool is not installed (scripts/setup.sh installs it)"
		  unless grep { -x "$_/$tool" } qw(/usr/sbin /sbin /usr/bin /bin);
	}
	my $probe = "$PREFIX-probe";
	return 'ip netns add is not permitted here'
	  if system("ip netns add $probe >/dev/null 2>&1") != 0;
	my $ok = system("ip netns exec $probe nft add table inet probe >/dev/null 2>&1") == 0;
	system("ip netns del $probe >/dev/null 2>&1");
	return $ok ? '' : 'nftables does not work inside a network namespace here';
}

sub node_ns   { "$PREFIX-n$_[1]" }
sub client_ns { "$PREFIX-c$_[1]" }
sub node_ip   { '10.77.0.' . (10 + $_[1]) }
sub client_ip { '10.77.0.' . (100 + $_[1]) }
sub nodes     { $_[0]{nodes} }

sub all_ns
{
	my ($self) = @_;
	return ((map { $self->node_ns($_) } 1 .. $self->{nodes}),
		(map { $self->client_ns($_) } 1 .. $self->{clients}));
}

# The address of a namespace of this network.
sub ip_of
{
	my ($self, $ns) = @_;
	return $self->node_ip($1) if $ns =~ /-n(\d+)$/;
	return $self->client_ip($1) if $ns =~ /-c(\d+)$/;
	die "Netns: $ns is not one of this network's namespaces\n";
}

# A member named by number (node) or 'cN' (client) as its namespace.
sub _ns_of
{
	my ($self, $who) = @_;
	return $who =~ /^c(\d+)$/ ? $self->client_ns($1) : $self->node_ns($who);
}

# Drop every packet from $from to $to (one way), as $to receives it.
sub cut_oneway
{
	my ($self, $from, $to) = @_;
	my $ns = $self->_ns_of($to);
	my $ip = $self->ip_of($self->_ns_of($from));
	return if $self->{blocked}{$ns}{$ip}++;
	_nft($ns, "add element inet dyncut blocked { $ip }\n");
}

# No packet between any member of @$a and any of @$b, either way.
sub cut
{
	my ($self, $a, $b) = @_;
	for my $x (@$a)
	{
		for my $y (@$b)
		{
			next if $x eq $y;
			$self->cut_oneway($x, $y);
			$self->cut_oneway($y, $x);
		}
	}
}

# Cut only the links named as pairs: cut_links([1,2],[2,3],...).
sub cut_links
{
	my ($self, @pairs) = @_;
	$self->cut([ $_->[0] ], [ $_->[1] ]) for @pairs;
}

# Every link works again.
sub heal
{
	my ($self) = @_;
	for my $ns (keys %{ $self->{blocked} })
	{
		_nft($ns, "flush set inet dyncut blocked\n") if %{ $self->{blocked}{$ns} };
	}
	$self->{blocked} = {};
}

# Run $code in a child process inside namespace $ns; returns its pid.  The
# child enters the namespace with setns(2) (only the network namespace: the
# test's files and processes stay visible) and exits when $code returns.
sub run_in
{
	my ($self, $ns, $code) = @_;
	my $pid = fork // die "Netns: fork: $!\n";
	return $pid if $pid;
	eval {
		enter($ns);
		$code->();
		1;
	} or do { print STDERR "Netns child in $ns: $@"; _exit(1) };
	_exit(0);
}

# Move this process into network namespace $ns (setns, CLONE_NEWNET).
sub enter
{
	my ($ns) = @_;
	open my $fh, '<', "/run/netns/$ns" or die "Netns: /run/netns/$ns: $!\n";
	my $SYS_setns = 308;    # x86_64
	my $CLONE_NEWNET = 0x40000000;
	syscall($SYS_setns, fileno($fh), $CLONE_NEWNET) == 0
	  or die "Netns: setns $ns: $!\n";
	close $fh;
}

# The command prefix that runs a program inside $ns.
sub exec_prefix { return ('ip', 'netns', 'exec', $_[1]) }

# ---------------------------------------------------------------- cleanup

sub _add_ns
{
	my ($ns) = @_;
	_sh('ip', 'netns', 'add', $ns);
	push @MINE, $ns;
	_sh('ip', '-n', $ns, 'link', 'set', 'lo', 'up');
}

sub _sh
{
	my @cmd = @_;
	system(@cmd) == 0 or die "Netns: @cmd failed (status $?)\n";
}

sub _nft
{
	my ($ns, $script) = @_;
	open my $p, '|-', 'ip', 'netns', 'exec', $ns, 'nft', '-f', '-'
	  or die "Netns: nft in $ns: $!\n";
	print $p $script;
	close $p or die "Netns: nft in $ns failed (status $?): $script";
}

# Kill what still runs in $ns and delete it.
sub _remove_ns
{
	my ($ns) = @_;
	my @pids = grep { /^\d+$/ } split /\s+/, `ip netns pids $ns 2>/dev/null`;
	kill 'CONT', @pids if @pids;    # a stopped process must die too
	kill 'KILL', @pids if @pids;
	for (1 .. 50)
	{
		waitpid($_, POSIX::WNOHANG()) for @pids;    # our own children: reap them
		last unless grep { kill 0, $_ } @pids;
		select(undef, undef, undef, 0.02);
	}
	system("ip netns del $ns >/dev/null 2>&1");
}

# Whether process $pid exists and is not a zombie (a test killed by -9 may
# wait a while for its parent to reap it).
sub _running
{
	my ($pid) = @_;
	return 0 unless kill 0, $pid;
	my $stat = DynamoTest::slurp("/proc/$pid/stat");
	return $stat !~ /^\d+ \(.*\) Z/s;
}

# Namespaces of an earlier run whose process is gone.
sub cleanup_stale
{
	for my $ns (map { (split ' ')[0] } `ip netns list 2>/dev/null`)
	{
		next unless $ns =~ /^dyt(\d+)-/;
		next if $1 == $$ || _running($1);
		diag("Netns: removing $ns left by an earlier run");
		_remove_ns($ns);
	}
}

sub cleanup
{
	return unless $$ == $OWNER;
	_remove_ns($_) for reverse @MINE;
	@MINE = ();
}

for my $sig (qw(INT TERM HUP))
{
	$SIG{$sig} = sub { cleanup(); _exit(128 + ($sig eq 'INT' ? 2 : $sig eq 'TERM' ? 15 : 1)) };
}

END
{
	my $status = $?;
	cleanup();
	$? = $status;
}

1;
