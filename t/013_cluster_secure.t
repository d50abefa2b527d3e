# 013_cluster_secure.t
#	Three nodes with --key/--trust: node-to-node connections run the secure
#	channel with each node's own key (role node), so gossip, quorum writes
#	and reads work exactly as in plaintext; a node whose key the others do
#	not trust cannot join; and the traffic between the nodes shows neither
#	key nor value (tcpdump, with an --insecure cluster as the control).

use strict;
use warnings;

use Test::More;
use File::Temp ();
use POSIX qw(:sys_wait_h _exit);
use Time::HiRes qw(time sleep);

use DynamoCluster qw(start_cluster wait_until values_of member_of preflist);

my @n = start_cluster(3, engine => 'memory', prefix => 's', secure => 1);
pass('three secure nodes formed one cluster (ring of 3, every member up)');
is($n[0]->status->{security}, 'authenticated', 'the nodes run with --key/--trust');

my ($rc, $out, $err) = $n[1]->cli('put', 'sec', 'k', 'over the channel', '--w', '3');
is($rc, 0, 'a W=3 write reaches every replica over authenticated connections') or diag($err);
for my $node (@n)
{
	is_deeply(values_of($node->get('sec', 'k', '--r', '3')->{siblings}), ['over the channel'],
		"an R=3 read through $node->{id}");
}

subtest 'the traffic between the nodes shows neither key nor value (tcpdump; --insecure as control)' => sub {
	my $tag = sprintf('%08x', int(rand(2**32)));
	my $bucket = "bkt$tag";
	my $value = "replicated-secret-$tag-do-not-show";
	my $dir = File::Temp::tempdir('dynamo-cap-XXXXXX', TMPDIR => 1, CLEANUP => !$ENV{DYNAMO_KEEP});

	# Write (W=3) and read (R=3) through the second node a key whose
	# coordinator is another node, capturing on every node's port.  The
	# client only talks to the node it was given, so the packets on the
	# other nodes' ports are node-to-node traffic: the forwarded request and
	# the replica puts and gets (W=3 and R=3 need both other replicas).
	my $run = sub {
		my ($nodes, $name) = @_;
		my $via = $nodes->[1];
		my ($key, $first);
		for my $i (1 .. 50)
		{
			my $p = preflist($via, $bucket, "key$tag-$i") // {};
			$first = ($p->{nodes} // [])->[0]{id} // '';
			if ($first ne '' && $first ne $via->{id}) { $key = "key$tag-$i"; last }
		}
		return (undef, undef, "no key of $bucket coordinated by a node other than $via->{id}")
		  unless defined $key;
		my %others = map { $_->port => 1 } grep { $_ != $via } @$nodes;
		my @ok;
		my ($bytes, $why) = DynamoTest::capture_loopback([ map { $_->port } @$nodes ], "$dir/$name.pcap", sub {
			my ($rc, $out, $err) = $via->cli('put', $bucket, $key, $value, '--w', '3');
			push @ok, $rc == 0 ? 1 : diag("put: $err");
			my $g = $via->get($bucket, $key, '--r', '3');
			push @ok, (values_of($g->{siblings})->[0] // '') eq $value ? 1 : diag("get: $g->{err}");
		});
		return (undef, undef, $why) unless defined $bytes;
		is(scalar(grep { $_ } @ok), 2,
			"$name: the W=3 put and the R=3 get of $key (coordinator $first) through $via->{id} worked during the capture");
		my @between = grep { $others{ $_->[0] } || $others{ $_->[1] } } DynamoTest::pcap_tcp_packets($bytes);
		return ($bytes, \@between, undef, $key);
	};

	my @plain = start_cluster(3, engine => 'memory', prefix => 'p');
	my ($plain_cap, $plain_between, $why, $plain_key) = $run->(\@plain, 'insecure');
	$_->stop for @plain;
	plan skip_all => $why if defined $why;
	cmp_ok(length $plain_cap, '>', 24, 'the control capture recorded packets');
	cmp_ok(scalar(grep { length $_->[2] } @$plain_between), '>', 0,
		'control: it holds node-to-node packets with data (on the ports of the nodes the client did not talk to)');
	ok(index(join('', map { $_->[2] } @$plain_between), $value) >= 0,
		'control: the node-to-node traffic of the --insecure cluster carries the value in clear');
	ok(index($plain_cap, $plain_key) >= 0, 'control: and the key');

	my ($sec_cap, $sec_between, $why2, $key) = $run->(\@n, 'secure');
	ok(!defined $why2, 'the secure capture ran') or diag($why2);
	ok(defined $sec_cap && length $sec_cap > 24, 'the secure capture recorded packets');
	cmp_ok(scalar(grep { length $_->[2] } @{ $sec_between // [] }), '>', 0,
		'it holds node-to-node packets with data');
	is(index($sec_cap // '', $value), -1, 'the secure capture does not contain the value');
	is(index($sec_cap // '', $key // "key$tag"), -1, 'nor the key');
	is(index($sec_cap // '', $bucket), -1, 'nor the bucket');
	is(index($sec_cap // '', $tag), -1, 'nor any part of them');
};

# a fourth node with a key of its own that the three do not trust
my $dir = File::Temp::tempdir('dynamo-keys-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $pk = DynamoTest::keygen("$dir/x.key");
my $admin = DynamoTest::keygen("$dir/admin.key");
# it trusts the others (their trust file plus itself), they do not trust it
my $trust = DynamoTest::slurp($n[0]{trust});
open my $fh, '>', "$dir/trust" or die $!;
print $fh $trust, "$pk node x4\n$admin admin admin2\n";
close $fh;
chmod 0644, "$dir/trust";
my $x = DynamoTest::Node->start(id => 'x4', engine => 'memory', secure => 1,
	key_file => "$dir/x.key", trust_file => "$dir/trust", admin_key => "$dir/admin.key",
	args => [ '--seeds', $n[0]->addr ]);
sleep 3;
is(member_of($n[0], 'x4'), undef, 'a node with an untrusted key never gets into the ring');
is($x->status->{ring_members}, 0, 'and the intruder never learns the ring');
like(DynamoTest::slurp("$n[0]{dir}/dynamod.log"), qr/refused connection .*not in the trust file/,
	'the seed logged the refusal');

# nor does it ever receive hints: with a replica down, writes are hinted to
# the members only (here the coordinators themselves hold them)
$n[2]->kill9;
my $acked = 0;
for my $i (1 .. 20)
{
	my ($hrc) = $n[$i % 2]->cli('put', 'hinted', "h$i", "v$i", '--w', '2');
	$acked++ if $hrc == 0;
}
is($acked, 20, 'W=2 writes succeed with one replica down');
my $pending = 0;
my @targets;
for my $m (@n[0, 1])
{
	my $h = $m->status->{hints};
	$pending += $h->{pending_total};
	push @targets, keys %{ $h->{pending} };
}
cmp_ok($pending, '>', 0, "the writes were hinted ($pending pending)");
is_deeply([ sort { $a cmp $b } grep { $_ ne $n[2]{id} } @targets ], [], 'every hint is for the node that is down');
is($x->status->{hints}{stored}, 0, 'the intruder holds no hint');

done_testing();
