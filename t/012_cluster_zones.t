# 012_cluster_zones.t
#	Six nodes in zones a, b, c: every preference list has N distinct nodes
#	spanning the three zones, the partitions spread evenly, and a node that
#	does not own a key forwards its writes to one that does (so every
#	version's dot comes from an owner).  Then five nodes without zones: the
#	keys each node stores spread within 10%.

use strict;
use warnings;

use Test::More;

use DynamoCluster qw(start_cluster preflist replica_copy values_of);

my @n = start_cluster(6, engine => 'memory', zones => [qw(a b c)], prefix => 'z');
my %zone = map { $_->{id} => $_->status->{zone} } @n;

subtest 'every preference list: 3 distinct nodes in 3 zones' => sub {
	my ($bad_nodes, $bad_zones) = (0, 0);
	for my $i (1 .. 40)
	{
		my $p = preflist($n[ $i % 6 ], 'zb', "key$i") // {};
		my @ids = map { $_->{id} } grep { $_->{replica} } @{ $p->{nodes} // [] };
		my %d = map { $_ => 1 } @ids;
		my %z = map { $zone{$_} => 1 } @ids;
		$bad_nodes++ unless @ids == 3 && keys %d == 3;
		$bad_zones++ unless keys %z == 3;
		diag("zb/key$i: @ids") unless keys %z == 3;
		is(scalar @{ $p->{nodes} // [] }, 6, 'the extended list names all six') if $i == 1;
	}
	is($bad_nodes, 0, '40 keys: each preference list has 3 distinct nodes');
	is($bad_zones, 0, 'and each spans zones a, b and c');
};

# dynamo-bench writes $count random keys (with repeats) through $node.
sub load_keys
{
	my ($node, $bucket, $count) = @_;
	my ($rc, $out, $err) = DynamoTest::run_cmd(
		cmd => [ DynamoTest::bin('dynamo-bench'), '--node', $node->addr, '--insecure',
			'--op', 'put', '--keys', $count, '--requests', $count, '--connections', '4',
			'--bucket', $bucket ],
		timeout => 120);
	is($rc, 0, "dynamo-bench wrote $count keys through $node->{id}") or diag($err);
}

subtest 'partitions spread evenly; with zones, replica load as it falls' => sub {
	my @s = map { $_->status } @n;
	my $total = 0;
	$total += $_->{partitions_owned} for @s;
	is($total, 64, 'the partitions are owned once');
	# 64 / 6 is not whole: shares differ by one partition at most
	my @owned = sort { $a <=> $b } map { $_->{partitions_owned} } @s;
	cmp_ok($owned[-1] - $owned[0], '<=', 1, "partition shares @owned differ by one at most");
	load_keys($n[0], 'spread', 6000);
	# not asserted: the zone-aware claim balances ownership, not replicas
	diag('keys per node with zones (replicas counted): '
		  . join(' ', map { "$_->{id}=" . $_->status->{keys} } @n));
};

subtest 'a node that owns no replica forwards the write to an owner' => sub {
	my ($key, $p);
	for my $i (1 .. 50)
	{
		$p = preflist($n[0], 'fw', "k$i") // {};
		my @r = map { $_->{id} } grep { $_->{replica} } @{ $p->{nodes} };
		if (!grep { $_ eq $n[0]{id} } @r) { $key = "k$i"; last }
	}
	ok(defined $key, "found a key $n[0]{id} does not replicate");
	my $before = $n[0]->status->{cluster}{forwarded};
	my ($rc, $ctx, $err) = $n[0]->cli('put', 'fw', $key, 'via-forward', '--w', '3');
	is($rc, 0, 'the write succeeds with W=3') or diag($err);
	is($n[0]->status->{cluster}{forwarded}, $before + 1, "$n[0]{id} forwarded it");
	my @r = map { $_->{id} } grep { $_->{replica} } @{ $p->{nodes} };
	my %by = map { $_->{id} => $_ } @n;
	for my $id (@r)
	{
		my $sib = replica_copy($by{$id}, 'fw', $key) // [];
		is_deeply(values_of($sib), ['via-forward'], "replica $id holds it");
		my @dots = map { keys %{ $_->{vclock} } } @$sib;
		ok((grep { my $d = $_; grep { $_ eq $d } @r } @dots) == @dots,
			"its clock names owners only (@dots)");
	}
	is_deeply(values_of(replica_copy($n[0], 'fw', $key)), [],
		"$n[0]{id} itself keeps no copy");
};

subtest 'without zones, keys spread within 10% (5 nodes, N=3)' => sub {
	my @m = start_cluster(5, engine => 'memory', prefix => 's');
	load_keys($m[0], 'spread', 8000);
	my @keys = map { $_->status->{keys} } @m;
	my $mean = 0;
	$mean += $_ for @keys;
	$mean /= @keys;
	diag("keys per node: @keys (mean $mean)");
	for my $i (0 .. $#m)
	{
		cmp_ok(abs($keys[$i] - $mean), '<=', 0.1 * $mean,
			"$m[$i]{id} holds $keys[$i] keys (within 10% of the mean)");
	}
	$_->stop for @m;
};

done_testing();
