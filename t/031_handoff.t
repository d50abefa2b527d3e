# 031_handoff.t
#	Ownership handoff on real dynamod processes: a fourth node joins three
#	while two clients write (W=2) and read (R=2) for the whole join; then a
#	node is removed the same way.  No acknowledged write may be lost, and
#	the share of keys whose partition changed owner is printed and must be
#	within 10 % of the ideal 1/4.

use strict;
use warnings;

use POSIX ();
use Test::More;
use Time::HiRes qw(time sleep);

use DynamoTest qw(raw_connect);
use DynamoCluster qw(start_cluster wait_until wait_converged pending_hints raw_put raw_get
  values_of);

my $dir = DynamoTest::scratch();
my $PRELOAD = 20000;

my @n = start_cluster(3, engine => 'wiredtiger', prefix => 'h',
	args => [ '--repair-interval', '0' ]);

# The ports clients may use (a file, so a running client sees changes).
sub set_ports
{
	my (@nodes) = @_;
	open my $fh, '>', "$dir/ports.tmp" or die;
	print $fh join("\n", map { $_->port } @nodes), "\n";
	close $fh;
	rename "$dir/ports.tmp", "$dir/ports" or die;
}

# One client process: fresh keys with W=2, reads of acknowledged keys with
# R=2, through a random allowed node; acknowledged keys logged as they are.
sub client
{
	my ($c, $phase) = @_;
	srand($$ ^ int(time * 1000));
	open my $log, '>', "$dir/acked.$phase.$c" or POSIX::_exit(1);
	$log->autoflush(1);
	my ($s, $id, $i, $bad) = (undef, 0, 0, 0);
	my @acked;
	while (!-e "$dir/stop.$phase")
	{
		if (!$s)
		{
			my @ports = split /\n/, DynamoTest::slurp("$dir/ports");
			$s = raw_connect($ports[ int rand @ports ]);
			if (!$s) { sleep 0.05; next }
		}
		my $key = "p$phase-c$c-" . $i++;
		my ($st) = raw_put($s, ++$id, 'live', $key, "v$key", 2);
		if ($st eq 'ok') { print $log "$key\n"; push @acked, $key }
		elsif ($st ne 'error') { close $s; $s = undef; next }
		if (@acked && $i % 3 == 0)
		{
			my $k = $acked[ int rand @acked ];
			my ($gs, $sib) = raw_get($s, ++$id, 'live', $k, 2);
			$bad++ if $gs eq 'ok' && !grep { $_ eq "v$k" } @{ values_of($sib) };
			if ($gs eq 'io') { close $s; $s = undef }
		}
	}
	open my $out, '>', "$dir/bad.$phase.$c" or POSIX::_exit(1);
	print $out "$bad\n";
	close $out;
	POSIX::_exit(0);
}

sub start_clients
{
	my ($phase) = @_;
	unlink "$dir/stop.$phase";
	my @pids;
	for my $c (1 .. 2)
	{
		my $pid = fork // die "fork: $!";
		client($c, $phase) if $pid == 0;
		push @pids, $pid;
	}
	return @pids;
}

sub stop_clients
{
	my ($phase, @pids) = @_;
	open my $fh, '>', "$dir/stop.$phase" or die;
	close $fh;
	waitpid($_, 0) for @pids;
	my @acked = map { split /\n/, DynamoTest::slurp("$dir/acked.$phase.$_") } 1 .. 2;
	my $bad = 0;
	$bad += (DynamoTest::slurp("$dir/bad.$phase.$_") // 0) for 1 .. 2;
	return (\@acked, $bad);
}

# Every acknowledged key must read back (R=2) through $node.
sub lost_of
{
	my ($node, $acked) = @_;
	my $s = raw_connect($node->port) or die "connect: $!";
	my ($lost, $id) = (0, 0);
	for my $k (@$acked)
	{
		my ($st, $sib) = raw_get($s, ++$id, 'live', $k, 2);
		$lost++ unless $st eq 'ok' && grep { $_ eq "v$k" } @{ values_of($sib) };
	}
	close $s;
	return $lost;
}

# owners: the ring's owner id per partition; keys: per partition (STATUS).
sub owners_of
{
	my ($node) = @_;
	my ($rc, $out) = $node->cli('--json', 'ring');
	return DynamoTest::json_decode($out)->{owners};
}

# The share of keys whose partition changed owner between two rings.
sub moved_share
{
	my ($before, $after, $per_partition) = @_;
	my ($moved, $total) = (0, 0);
	for my $p (0 .. $#$before)
	{
		$total += $per_partition->[$p];
		$moved += $per_partition->[$p] if $before->[$p] ne $after->[$p];
	}
	return $total ? $moved / $total : 0;
}

my ($rc, $out, $err) = DynamoTest::run_cmd(
	cmd => [ DynamoTest::bin('dynamo-bench'), '--node', $n[0]->addr, '--insecure',
		'--op', 'put', '--sequential', '--keys', $PRELOAD, '--requests', $PRELOAD,
		'--connections', 4, '--pipeline', 16, '--bucket', 'pre' ],
	timeout => 300);
is($rc, 0, "preloaded $PRELOAD keys") or diag($out . $err);
ok(defined wait_until(60, sub { !grep { pending_hints($_) > 0 } @n }), 'hints drained');

# ------------------------------------------------------------------ join

set_ports(@n);
my $before = owners_of($n[0]);
my $per_partition = $n[0]->status->{partition_keys};
my @pids = start_clients('join');
sleep 2;
my $t0 = time;
push @n, DynamoTest::Node->start(id => 'h4', engine => 'wiredtiger',
	args => [ '--repair-interval', '0', '--seeds', $n[0]->addr ]);
ok(wait_converged(\@n, 120), 'the fourth node joined and every transfer completed');
my $join_s = time - $t0;
set_ports(@n);
sleep 2;
my ($acked, $bad) = stop_clients('join', @pids);
my $after = owners_of($n[0]);
my $share = moved_share($before, $after, $per_partition);
my $h4 = $n[3]->status;
diag(sprintf('join: %.1f s under load; %d writes acknowledged meanwhile; keys in partitions '
	  . 'that changed owner: %.1f %% (ideal 25 %%); h4 pulled %d keys (%d bytes) and holds %d',
	$join_s, scalar @$acked, 100 * $share, $h4->{handoff}{keys_received},
	$h4->{handoff}{bytes_received}, $h4->{keys}));
cmp_ok(abs($share - 0.25), '<=', 0.025, 'the share that moved is within 10 % of 1/4');
ok(scalar @$acked > 100, 'the clients kept writing through the join');
is($bad, 0, 'no read during the join missed an acknowledged write');
ok(defined wait_until(120, sub { !grep { $_->status->{handoff}{busy} } @n }),
	'the old owners finished dropping what they handed over');
is(lost_of($n[1], $acked), 0, 'no acknowledged write was lost');
my $pre_lost = 0;
{
	my $s = raw_connect($n[3]->port) or die;
	my $id = 0;
	for my $i (map { $_ * 97 } 0 .. 199)
	{
		my ($st, $sib) = raw_get($s, ++$id, 'pre', sprintf('key:%012d', $i), 2);
		$pre_lost++ unless $st eq 'ok' && @{ values_of($sib) } == 1;
	}
	close $s;
}
is($pre_lost, 0, 'the preloaded keys read back through the new node');
# the old owners drop one partition after another (the handoff is idle for
# a moment between two), so wait for the count rather than for idleness
my $expect = 3 * ($PRELOAD + scalar @$acked);
my $total_keys = 0;
wait_until(120, sub {
	$total_keys = 0;
	$total_keys += $_->status->{keys} // 0 for @n;
	return $total_keys == $expect;
});
diag("replicas held after the join: $total_keys (N=3 copies of every key: $expect)");
cmp_ok($total_keys, '<=', $expect, 'the old owners dropped the partitions they handed over');

# ---------------------------------------------------------------- remove

$before = $after;
my $removed = $n[1];
$per_partition = $n[0]->status->{partition_keys};
@pids = start_clients('remove');
sleep 2;
$t0 = time;
($rc, $out, $err) = $n[0]->cli({ timeout => 300 }, 'remove', $removed->{id});
is($rc, 0, "dynamo-cli remove $removed->{id}") or diag($err);
like($out, qr/removed $removed->{id}/, 'remove waited until the node left the ring');
my $remove_s = time - $t0;
my @rest = grep { $_ != $removed } @n;
set_ports(@rest);
sleep 1;
$removed->stop;
sleep 1;
($acked, $bad) = stop_clients('remove', @pids);
ok(wait_converged(\@rest, 60), 'three nodes left, converged');
$after = owners_of($rest[0]);
my ($moved, $total) = (0, 0);
for my $p (0 .. $#$before)
{
	$total += $per_partition->[$p];
	$moved += $per_partition->[$p] if $before->[$p] eq $removed->{id};
}
diag(sprintf('remove: %.1f s under load; %d writes acknowledged meanwhile; keys in the '
	  . 'partitions %s owned: %.1f %% (ideal 25 %%)', $remove_s, scalar @$acked,
	$removed->{id}, 100 * $moved / $total));
ok(!grep({ $_ eq $removed->{id} } @$after), 'the removed node owns nothing');
is(lost_of($rest[0], $acked), 0, 'no acknowledged write was lost');
is($bad, 0, 'no read during the removal missed an acknowledged write');

# ------------------------------------------------------ remove a dead node

# Its partitions come back from the replicas left: with two nodes and N=3
# each of them must end up holding every key.
my $dead = $rest[1];
$dead->kill9;
my @two = grep { $_ != $dead } @rest;
ok(defined wait_until(30, sub { $two[0]->status->{members}
	  && grep { $_->{id} eq $dead->{id} && $_->{status} eq 'down' } @{ $two[0]->status->{members} } }),
	"$dead->{id} is seen down");
($rc, $out, $err) = $two[0]->cli({ timeout => 300 }, 'remove', $dead->{id});
is($rc, 0, "dynamo-cli remove $dead->{id} (killed)") or diag($err);
like($out, qr/removed $dead->{id}/, 'the dead node left the ring');
ok(defined wait_until(60, sub { !grep { my $s = $_->status; $s->{handoff}{busy}
	  || $s->{ring_pending} || $s->{anti_entropy}{running} || !$s->{anti_entropy}{rounds} } @two }),
	'handoff and the anti-entropy round the removal started are over');
is($two[1]->status->{keys}, $two[0]->status->{keys},
	'both nodes left hold the same keys (every key, N capped at 2)');
is(lost_of($two[1], [ @$acked ]), 0, 'no acknowledged write was lost with the dead node removed');
$_->stop for @two;
done_testing();
