# 013_cluster_secure.t
#	Three nodes with --key/--trust: node-to-node connections run the secure
#	channel with each node's own key (role node), so gossip, quorum writes
#	and reads work exactly as in plaintext; a node whose key the others do
#	not trust cannot join.

use strict;
use warnings;

use Test::More;

use DynamoCluster qw(start_cluster wait_until values_of member_of);

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

done_testing();
